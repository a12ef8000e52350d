"""The identity network trained on pieces cut at other contact distances, on the videos of a finished run.

    python bench/identity_training_contact.py --config /tmp/suite60/easy/config.yaml \
        --ladder 1,0.7,0.5 --ladder 0.5 --videos easy-6-fast-dark

Each ``--ladder`` is a list of fractions of ``reid.contact`` tried in turn for the pieces the ``identity`` rule
learns from (``train_identity_file(contacts=...)``; the default ladder is the library's ``TRAINING_CONTACTS``);
``--seeds`` trains each with several seeds. For every video and ladder: the network is trained on the run's own
tracklets and crops, the video is stitched with it (stitching still cuts at ``reid.contact``), and IDF1 / HOTA /
switches are scored against the generator's ground truth (``metrics.mot_metrics``, 20 px). ``--drop-misassembled``
first removes the detections whose keypoints lie too far apart to be one fish (the experiment of session 12, not the
default). ``--neighbours 0 0.5`` trains each video with those shares of training crops shown with a neighbour alongside
(``identity.neighbours``; 0: off), side by side.
"""
from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def drop_misassembled(stray: float):
    """Patch the tracklet cleanup: a detection of 3+ keypoints with fewer than 3 within ``stray`` body lengths of
    their median (keypoints of several fish, assembled as one) is removed from its tracklet."""
    from cichlid_track.dlc_pickles import seen_keypoints
    from cichlid_track.tracking import cleanup, stitch
    from cichlid_track.tracking.tracklet_io import load_tracklets_dict

    original = cleanup.cleaned_tracklets

    def cleaned(raw, stray_bl):
        raw, tracks, body_len, dropped = original(raw, stray_bl)
        if not stray_bl:
            return raw, tracks, body_len, dropped
        out = {}
        for key, frames in raw.items():
            if key in ("header", "single") or not isinstance(frames, dict):
                out[key] = frames
                continue
            kept = {}
            for fkey, row in frames.items():
                a = np.asarray(row, dtype=float)
                xy = (a.reshape(-1, 3) if a.ndim == 1 else a)[:, :2]
                ok = seen_keypoints(xy)
                if ok.sum() >= 3 and (np.linalg.norm(xy[ok] - np.median(xy[ok], 0), axis=1)
                                      <= stray_bl * body_len).sum() < 3:
                    continue
                kept[fkey] = row
            out[key] = kept
        return out, load_tracklets_dict(out), body_len, dropped

    cleanup.cleaned_tracklets = cleaned
    stitch.cleaned_tracklets = cleaned


def main() -> None:
    from finished_run import load_run, run_parser

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.tracking import files, stitch_files, stitch_options
    from cichlid_track.tracking.identity_net import TrainingSettings

    ap = run_parser(__doc__)
    ap.add_argument("--ladder", action="append", help="fractions of reid.contact, comma-separated (repeatable)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--drop-misassembled", action="store_true")
    ap.add_argument("--neighbours", type=float, nargs="+",
                    help="identity.neighbours values to train with, side by side (default: the run's config)")
    args = ap.parse_args()
    settings = load_run(args.config)
    cfg, ic = settings.config, settings.config["identity"]
    if args.drop_misassembled:
        drop_misassembled(cfg["tracking"]["stray_keypoints"])
    ladders = [tuple(float(x) for x in s.split(",")) for s in args.ladder] if args.ladder else [files.TRAINING_CONTACTS]
    neighbours = args.neighbours or [ic["neighbours"]]
    print("| video | ladder (x reid.contact) | neighbours | seed | trained at (body lengths) | labelled pieces "
          "| IDF1 / HOTA / switches |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for vid in args.videos or list(settings.samples):
            truth = read_truth(Path(cfg["ground_truth"]) / f"{vid}.csv")
            inputs = settings.identity_inputs(vid, existing_only=True)
            for ladder, share, seed in itertools.product(ladders, neighbours, args.seeds):
                out = Path(tmp) / f"{vid}_identity_net.pth"
                summary = files.train_identity_file(
                    settings.video_file(vid, "_el.pickle"), inputs["crops_h5"], out, settings.n_tracks_of(vid),
                    stray=cfg["tracking"]["stray_keypoints"], contact=cfg["reid"]["contact"],
                    jump=cfg["reid"]["jump"], contacts=ladder, settings=TrainingSettings(
                        steps=ic["steps"], epochs=ic["epochs"], rounds=ic["rounds"], seed=seed,
                        neighbours=share))
                result = stitch_files(*settings.stitch_inputs(vid), **{**inputs, "identity_model": out},
                                      **stitch_options(cfg))
                m = mot_metrics(truth, result.reid, 20)
                trained_at = summary.get("training_contact", "none")
                print(f"| {vid} | {', '.join(map(str, ladder))} | {share} | {seed} | {trained_at} "
                      f"| {summary.get('labelled_pieces', 0)} | {m['IDF1']:.3f} / {m['HOTA']:.3f} / "
                      f"{m['ID switches']} |", flush=True)


if __name__ == "__main__":
    main()
