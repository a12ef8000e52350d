"""Tracking quality against the synthetic ground truth, and stitching cost, for:

- motion only (DLC's default cost), from ``_el_motion.h5``;
- DLC 3.0.2's stock transformer stitching (``stitch_tracklets(transformer_checkpoint=...)``) on the
  same tracklets, features and re-ID model;
- ours, from ``_el.h5`` (``reid.method`` of the run: pieces by default);
- a ceiling: our pieces (tracklets cut at contacts) linked by the ground truth itself, i.e. the best
  any linking of these detections could do.

All four get the run's gap filling (``tracking.max_gap``), so that only the linking differs.

Also the feature-lookup error rate of DLC's ``query_feature_by_coord_in_img_space`` vs our
nearest-detection lookup when queries are offset by a few pixels.

Usage (after a workflow run; ground truth comes from scripts/make_demo.py):
    python bench/tracking_quality.py --config config/config.yaml --truth results/demo_data/ground_truth
"""
from __future__ import annotations

import argparse
import math
import os
import shelve
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def dlc_shelf_from_ours(features_h5: Path, out: Path, n_frames: int, parts) -> None:
    """DLC's ``_bpt_features.pickle`` shelve (what its stitcher reads) from our HDF5 features, with the
    channels the re-ID model was trained on."""
    from cichlid_track.features import FeatureStore

    width = int(math.ceil(math.log10(n_frames)))  # the width DLC's stitcher queries with
    with FeatureStore(features_h5, parts=parts) as st, shelve.open(str(out)) as db:
        for f in range(st.n_frames):
            kps = st.keypoints(f)
            if len(kps):
                db["frame" + str(f).zfill(width)] = {"features": np.asarray(st.features(f), np.float64),
                                                       "coordinates": kps[..., :2].astype(np.float64)}


def dlc_stock_stitch(settings, vid: str, work: Path) -> tuple[pd.DataFrame, float]:
    import deeplabcut

    from cichlid_track import dlc_pickles
    from cichlid_track.dlc_calls import dlc_snapshot_index, link_video

    prefix = f"{vid}{settings.scorer}"
    folder = work / vid
    folder.mkdir(parents=True)
    dlc_pickles.write_widened(settings.video_file(vid, "_el.pickle"), folder / f"{prefix}_el.pickle")  # DLC's float64
    n_frames = len(pd.read_hdf(settings.video_file(vid, "_el.h5")))
    dlc_shelf_from_ours(Path(settings.video_file(vid, "_bpt_features.h5")), folder / f"{prefix}_bpt_features.pickle",
                        n_frames, settings.config["reid"]["feature_parts"])
    link = link_video(settings.samples[vid].path, folder, vid)
    snapshot = Path(settings.in_project(settings.names.snapshot))
    start = time.perf_counter()
    deeplabcut.stitch_tracklets(settings.in_project("config.yaml"), [str(link)], shuffle=settings.config["shuffle"],
                                destfolder=str(folder), transformer_checkpoint=settings.reid_model(vid),
                                track_method="ellipse", snapshot_index=dlc_snapshot_index(snapshot.parent, snapshot))
    seconds = time.perf_counter() - start
    from cichlid_track.tracking import fill_gaps

    # the same gap filling as our two outputs get, so that only the stitching differs
    tracks = fill_gaps(pd.read_hdf(folder / f"{prefix}_el_tr.h5").reindex(range(n_frames)),
                       settings.config["tracking"]["max_gap"])
    return tracks, seconds


def our_stitch_time(settings, vid: str) -> float:
    from cichlid_track.tracking import stitch_files, stitch_options

    start = time.perf_counter()
    stitch_files(*settings.stitch_inputs(vid), **settings.identity_inputs(vid, existing_only=True),
                         **stitch_options(settings.config))
    return time.perf_counter() - start


def ground_truth_linking(settings, vid: str, truth: pd.DataFrame, max_px: float) -> pd.DataFrame:
    """The ceiling: our pieces, each given to the fish it mostly follows in the ground truth (longest
    first, never two pieces of one fish in the same frame)."""
    from cichlid_track import dlc_pickles
    from cichlid_track.metrics import centroids
    from cichlid_track.tracking import cleaned_tracklets, fill_gaps, merge, tracks_dataframe
    from cichlid_track.tracking.stitch import video_pieces

    # the tracklets, and the body length, exactly as our stitcher sees them, so that the pieces are the same
    raw = dlc_pickles.load(settings.video_file(vid, "_el.pickle"))
    raw, tracks, body_len, _ = cleaned_tracklets(raw, settings.config["tracking"]["stray_keypoints"])
    reid = settings.config["reid"]
    pieces = video_pieces(raw, tracks, body_len, reid["contact"], reid["jump"])
    gt = np.stack(list(centroids(truth).values()))
    fish = [[] for _ in range(len(gt))]
    for t in sorted(pieces, key=len, reverse=True):
        votes = []
        for i, f in enumerate(t.inds):
            d = np.linalg.norm(gt[:, f] - t.centroid[i], axis=1)
            if np.isfinite(d).any() and np.nanmin(d) < max_px:
                votes.append(int(np.nanargmin(d)))
        if votes:
            g = max(set(votes), key=votes.count)
            if all(t not in other for other in fish[g]):
                fish[g].append(t)
    n = settings.n_tracks_of(vid)
    tracks = tracks_dataframe([merge(f) for f in fish if f], raw, n, settings.individuals[:n], len(truth))
    return fill_gaps(tracks, settings.config["tracking"]["max_gap"])


def lookup_error_rates(settings, vid: str, offsets=(0, 1, 2, 4, 8), n=2000, seed=0) -> dict:
    """Query stored detections shifted by a random offset of the given length; how often is the
    returned detection another one?"""
    from deeplabcut.pose_tracking_pytorch.tracking_utils import query_feature_by_coord_in_img_space

    from cichlid_track.features import FeatureStore
    from cichlid_track.features import nearest_assembly

    rng = np.random.default_rng(seed)
    rows = {}
    with FeatureStore(settings.video_file(vid, "_bpt_features.h5")) as st:
        frames = [f for f in range(st.n_frames) if len(st.keypoints(f)) >= 2]
        for off in offsets:
            wrong_dlc = wrong_ours = 0
            for _ in range(n):
                f = frames[rng.integers(len(frames))]
                kps = st.keypoints(f)
                i = int(rng.integers(len(kps)))
                angle = rng.uniform(0, 2 * np.pi)
                q = kps[i, :, :2] + off * np.array([np.cos(angle), np.sin(angle)])
                tags = np.zeros((len(kps), kps.shape[1], 1))
                tags[:, :, 0] = np.arange(len(kps))[:, None]
                entry = {"frame": {"coordinates": kps[..., :2].astype(float), "features": tags}}
                with np.errstate(all="ignore"):
                    import warnings

                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        picked = int(query_feature_by_coord_in_img_space(entry, "frame", q)[0, 0])
                wrong_dlc += picked != i
                wrong_ours += nearest_assembly(q, kps)[0] != i
            rows[off] = (wrong_dlc / n, wrong_ours / n)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True, help="the workflow config of the run to measure")
    p.add_argument("--truth", type=Path, required=True, help="ground-truth folder written by make_demo.py")
    p.add_argument("--workdir", type=Path, default=Path("."), help="where the workflow ran")
    p.add_argument("--max-px", type=float, default=20.0, help="match distance for MOT metrics (centroids)")
    a = p.parse_args(argv)

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.settings import load_settings

    os.chdir(a.workdir)
    s = load_settings(yaml.safe_load(a.config.read_text()), REPO / "workflow" / "schemas")
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    print("| video | stitcher | IDF1 | HOTA | MOTA | ID switches | stitching time (s) |")
    print("|---|---|---|---|---|---|---|")
    for vid in s.samples:
        truth = read_truth(a.truth / f"{vid}.csv")
        motion = pd.read_hdf(s.video_file(vid, "_el_motion.h5"))
        ours = pd.read_hdf(s.video_file(vid, "_el.h5"))
        dlc, t_dlc = dlc_stock_stitch(s, vid, work)
        t_ours = our_stitch_time(s, vid)
        ceiling = ground_truth_linking(s, vid, truth, a.max_px)
        for name, df, t in (("motion only", motion, ""), ("DLC 3.0.2 transformer", dlc, f"{t_dlc:.2f}"),
                            (f"ours ({s.config['reid']['method']})", ours,
                             f"{t_ours:.2f} (ratio {t_ours / t_dlc:.2f})"),
                            ("ceiling: pieces linked by ground truth", ceiling, "")):
            m = mot_metrics(truth, df, a.max_px)
            print(f"| {vid} | {name} | {m['IDF1']:.3f} | {m['HOTA']:.3f} | {m['MOTA']:.3f} | {m['ID switches']} | {t} |")
    print()
    vid = next(iter(s.samples))
    print(f"Feature lookup error rate on {vid} (query = a detection shifted by the offset):")
    print("| offset (px) | DLC 3.0.2 lookup | ours |\n|---|---|---|")
    for off, (d, o) in lookup_error_rates(s, vid).items():
        print(f"| {off} | {100 * d:.1f}% | {100 * o:.1f}% |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
