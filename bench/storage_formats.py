"""Tracking quality and bytes with the compact stores (JPEG crops, int8 keypoint features) against raw crops and
float16 features, on finished runs analysed with the raw formats.

    python bench/storage_formats.py --config /tmp/suite/lookalike/config.yaml [--videos lookalike-8 ...]

For each video of the run: "raw" trains the identity network on the run's own crops and stitches with its own
features; "compact" first re-writes both files with the current writer (``FeatureWriter``: crops as JPEG of
``--quality``, features as int8 with a scale per keypoint and map, which is what analysis now writes from the
same values) and then does the same. Everything else is shared: the tracklets, the re-ID model, the code, the
seeds (identity training on one CPU thread). Scores: IDF1, HOTA and switches against the generator's ground
truth; bytes per stored row of each file. Writes ``--csv``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rewrite(src: Path, dst: Path, name: str, **writer) -> int:
    """``src`` row by row through the current :class:`FeatureWriter` (same frames, rows and attributes); rows are
    read decoded (raw, int8 or JPEG alike), so a file of any format can be re-written. Returns the row count."""
    import h5py

    from cichlid_track.features import FeatureStore, FeatureWriter

    with h5py.File(src) as h:
        attrs = dict(h.attrs)
    with FeatureStore(src, name=name) as store:
        item = store.item_shape
        w = FeatureWriter(dst, store.n_keypoints, item[-1], name=name, item_shape=item if name == "crops" else None,
                          layout=str(attrs.get("layout", "")), **writer)
        for f in range(store.n_frames):
            w.add_frame(f, store.keypoints(f), store.features(f))
        w.close(attrs)
        return int(store.offsets[-1])


def bytes_per_row(path: Path) -> float:
    import h5py

    with h5py.File(path) as h:
        return path.stat().st_size / max(1, h["frame"].shape[0])


def score(settings, vid: str, crops: Path, features: Path, scratch: Path) -> dict:
    import torch

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.tracking.files import stitch_files, stitch_options, train_identity_file
    from cichlid_track.tracking.identity_net import TrainingSettings

    torch.set_num_threads(1)  # the same arithmetic in both runs
    cfg = settings.config
    ident = cfg["identity"]
    model = scratch / "identity_net.pth"
    start = time.time()
    train_identity_file(settings.video_file(vid, "_el.pickle"), crops, model, settings.n_tracks_of(vid),
                        stray=cfg["tracking"]["stray_keypoints"], contact=cfg["reid"]["contact"],
                        jump=cfg["reid"]["jump"],
                        settings=TrainingSettings(steps=ident["steps"], epochs=ident["epochs"], rounds=ident["rounds"],
                                                  steps_per_frame=ident.get("steps_per_frame",
                                                                            TrainingSettings.steps_per_frame),
                                                  seed=ident["seed"], device="cpu"))
    seconds = time.time() - start
    el, _, meta, reid_model, n, names, scorer = settings.stitch_inputs(vid)
    result = stitch_files(el, features, meta, reid_model, n, names, scorer, identity_model=model, crops_h5=crops,
                          **stitch_options(cfg))
    m = mot_metrics(read_truth(settings.ground_truth(vid)), result.reid)
    return {"IDF1": m["IDF1"], "HOTA": m["HOTA"], "switches": int(m["ID switches"]), "identity_seconds": seconds,
            "crop_bytes": bytes_per_row(crops), "feature_bytes": bytes_per_row(features)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True, help="config.yaml of a finished run (its folder is the workdir)")
    p.add_argument("--videos", nargs="*", default=None, help="default: every video of the run")
    p.add_argument("--quality", type=int, default=90)
    p.add_argument("--scratch", type=Path, default=Path("/tmp/storage_formats"))
    p.add_argument("--csv", type=Path, default=REPO / "bench" / "results" / "storage_formats.csv")
    a = p.parse_args(argv)
    from cichlid_track.settings import load_settings

    settings = load_settings(yaml.safe_load(a.config.read_text()), REPO / "workflow" / "schemas",
                             workdir=a.config.parent)
    rows = []
    for vid in a.videos or list(settings.samples):
        crops, features = Path(settings.video_file(vid, "_crops.h5")), Path(settings.video_file(vid, "_bpt_features.h5"))
        for label in ("raw", "compact"):
            scratch = a.scratch / vid / label
            scratch.mkdir(parents=True, exist_ok=True)
            c, f = crops, features
            if label == "compact":
                c, f = scratch / "crops.h5", scratch / "features.h5"
                rewrite(crops, c, "crops", dtype="uint8", jpeg_quality=a.quality)
                rewrite(features, f, "features", dtype="int8")
            r = {"video": vid, "stores": label, **score(settings, vid, c, f, scratch)}
            print(f"{vid} {label}: IDF1 {r['IDF1']:.3f}, HOTA {r['HOTA']:.3f}, {r['switches']} switches; bytes per "
                  f"crop {r['crop_bytes']:.0f}, per detection {r['feature_bytes']:.0f}", flush=True)
            rows.append(r)
    table = pd.DataFrame(rows)
    a.csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(a.csv, index=False, float_format="%.3f")
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
