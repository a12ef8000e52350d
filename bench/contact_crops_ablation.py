"""The contact crops (``identity.crop_near``) on and off, on the videos of a finished run.

    python bench/contact_crops_ablation.py --config /tmp/suite60/lookalike/config.yaml [--videos lookalike-8 ...]

For each video: "on" stitches with the run's own ``_crops.h5`` (every 4th frame plus the fish in contact on the
other frames); "off" with a copy holding only the rows of every ``every``-th frame, which is what the analysis wrote
before ``crop_near``. The identity network (trained on the regular frames only either way), the tracklets, the
re-ID model and the code are the run's, so the difference is the crops at contact frames. Scores IDF1, HOTA and
identity switches against the generator's ground truth (``metrics.mot_metrics``, 20 px).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def regular_rows_only(src: Path, dst: Path) -> tuple[int, int]:
    """A copy of a crops file with the rows of every ``every``-th frame only; returns (rows, rows kept)."""
    import h5py

    with h5py.File(src) as h, h5py.File(dst, "w") as out:
        offsets, frames = h["frame_offsets"][:], h["frame"][:]
        keep = frames % int(h.attrs["every"]) == 0
        rows = np.flatnonzero(keep)
        out.create_dataset("frame", data=frames[rows])
        out.create_dataset("keypoints", data=h["keypoints"][:][rows])
        crops = out.create_dataset("crops", (len(rows),), dtype=h5py.vlen_dtype(np.uint8))
        crops[:] = h["crops"][:][rows]
        crops.attrs.update(dict(h["crops"].attrs))
        per_frame = np.bincount(np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))[keep],
                                minlength=len(offsets) - 1)
        out.create_dataset("frame_offsets", data=np.concatenate([[0], np.cumsum(per_frame)]))
        out.attrs.update({**dict(h.attrs), "near": 0})
    return len(frames), len(rows)


def main() -> None:
    from finished_run import load_run, run_parser

    from cichlid_track.metrics import mot_metrics, read_truth
    from cichlid_track.tracking import stitch_files, stitch_options

    args = run_parser(__doc__).parse_args()
    settings = load_run(args.config)
    print("| video | crops, every 4th frame | + contact crops | contact crops off: IDF1 / HOTA / switches | on |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for vid in args.videos or list(settings.samples):
            truth = read_truth(Path(settings.config["ground_truth"]) / f"{vid}.csv")
            inputs = settings.identity_inputs(vid, existing_only=True)
            off = Path(tmp) / f"{vid}_crops.h5"
            rows, regular = regular_rows_only(Path(inputs["crops_h5"]), off)
            scores = []
            for crops in (off, inputs["crops_h5"]):
                result = stitch_files(*settings.stitch_inputs(vid), **{**inputs, "crops_h5": crops},
                                      **stitch_options(settings.config))
                m = mot_metrics(truth, result.reid, 20)
                scores.append(f"{m['IDF1']:.3f} / {m['HOTA']:.3f} / {m['ID switches']}")
            print(f"| {vid} | {regular} | {rows - regular} (+{(rows - regular) / max(regular, 1):.0%}) | {scores[0]} "
                  f"| {scores[1]} |", flush=True)


if __name__ == "__main__":
    main()
