"""What the contact crops (``identity.crop_near``) and the compressed stores cost, on a finished long-video run.

    python bench/contact_crops_disk.py --run /tmp/long [--video "long 10 min"]

For one video of a ``long_video.py`` run, analysed before the contact crops: its ``_bpt_features.h5`` and
``_crops.h5`` are re-written row by row through the current ``FeatureWriter`` (int8 features gzip-compressed;
keypoints, scales and frame numbers gzip-compressed; crops as JPEG), its ``_tracking.json`` through the current
``summary_json``, its ``_el.h5`` and ``_el_motion.h5`` through ``write_tracks`` (float32); the crops analysis now adds at contacts are counted from the stored detections (off the regular
``every``-th frames, within ``crop_near`` body lengths of another, 3+ keypoints: ``crops.close_to_another``), at
the re-written file's bytes per crop row. Every other output is the run's own. Prints bytes per file, before and
after, and both projected to one hour of video (bytes per frame x 108,000 frames at 30 fps) beside the run's total.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "bench"))
FIXED_SIZE = ("_triplet_vector.npy", "dlc_transreid_", "reid_accuracy.csv", "identity_net")  # do not grow


def contact_rows(features: Path, every: int, near: float) -> int:
    from cichlid_track.crops import MIN_KEYPOINTS, close_to_another
    from cichlid_track.features import FeatureStore

    n = 0
    with FeatureStore(features) as store:
        for f in range(store.n_frames):
            if f % every:
                k = store.keypoints(f)
                whole = np.isfinite(k[..., :2]).all(-1).sum(-1) >= MIN_KEYPOINTS
                n += int((close_to_another(k, near) & whole).sum())
    return n


def main() -> None:
    import yaml

    import pandas as pd

    from cichlid_track.tracking.output import summary_json, write_tracks
    from storage_formats import rewrite

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, required=True, help="a long_video.py --out folder")
    ap.add_argument("--video", default=None, help="video id (default: the longest)")
    ap.add_argument("--near", type=float, default=None, help="crop_near (default: the config's)")
    args = ap.parse_args()
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    near = args.near if args.near is not None else config["identity"]["crop_near"]
    folders = sorted((args.run / "results" / "videos").iterdir(), key=lambda d: sum(f.stat().st_size for f in d.iterdir()))
    folder = args.run / "results" / "videos" / args.video if args.video else folders[-1]
    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    features = next(folder.glob("*_bpt_features.h5"))
    crops = next(folder.glob("*_crops.h5"))
    tracking = next(folder.glob("*_tracking.json"))
    import h5py

    with h5py.File(crops) as h:
        every, quality = int(h.attrs["every"]), int(str(h["crops"].attrs["encoding"]).split(":")[1])
    with h5py.File(features) as h:
        n_frames, dtype = int(h.attrs["n_frames"]), h["features"].dtype
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rewrite(features, tmp / "f.h5", "features", dtype=str(dtype), compression="gzip" if dtype == np.int8 else None)
        rows = rewrite(crops, tmp / "c.h5", "crops", dtype="uint8", jpeg_quality=quality)
        new_features, new_crops = (tmp / "f.h5").stat().st_size, (tmp / "c.h5").stat().st_size
        added = contact_rows(features, every, near)
        per_row = new_crops / max(rows, 1)
        new_tracking = len(summary_json(json.loads(tracking.read_text())).encode())
        after = {features.name: new_features, crops.name: int(new_crops + added * per_row), tracking.name: new_tracking}
        for path in [*folder.glob("*_el.h5"), *folder.glob("*_el_motion.h5")]:  # float32 tables
            write_tracks(pd.read_hdf(path), tmp / "t.h5")
            after[path.name] = (tmp / "t.h5").stat().st_size
    hour = 108_000 / n_frames

    def per_hour(name, size):
        return size if name.startswith(FIXED_SIZE) else size * hour

    print(f"{folder.name}: {n_frames} frames; crops every {every}th frame: {rows} rows, {per_row:.0f} bytes each "
          f"as now written; contact crops added (crop_near {near}): {added} (+{added / max(rows, 1):.1%})\n")
    print("| file | bytes, run | bytes, now | GB per hour, run | GB per hour, now |")
    print("|---|---|---|---|---|")
    for name in after:
        print(f"| {name.split('snapshot_')[-1]} | {files[name]:,} | {after[name]:,} | {per_hour(name, files[name]) / 1e9:.3f} "
              f"| {per_hour(name, after[name]) / 1e9:.3f} |")
    total_run = sum(per_hour(n, s) for n, s in files.items())
    total_now = sum(per_hour(n, after.get(n, s)) for n, s in files.items())
    print(f"| all outputs of the video | | | {total_run / 1e9:.3f} | {total_now / 1e9:.3f} |")


if __name__ == "__main__":
    main()
