"""A video's identity crops cut again at another density, from the run's own detections, without a new analysis.

    python bench/recut_crops.py --config /tmp/suite60/easy/config.yaml --every 2 --out /tmp/recut/every2 \
        [--videos easy-9-check-fast-gravel] [--check]

The analysis cuts each fish's pose-aligned crop (``crops.aligned_crops``) from the frame the pose model sees, for every
``identity.crop_every``-th frame and for fish within ``identity.crop_near`` body lengths of another on the others.
Here the frames are decoded again (OpenCV, RGB, as DLC reads them: bottom-up inference sees the whole frame) and the
crops cut from the keypoints the analysis stored in ``_bpt_features.h5`` (every frame's detections, in their order),
so the detections, tracklets and pieces stay those of the run: only the crops change. Re-analysing instead would
also change the detections (CPU inference is not bit-reproducible here) and confound the comparison.
``--quality`` stores them as JPEG of another quality. ``--check`` compares the re-cut crops of the run's own crop
frames with the stored ones (mean absolute difference per pixel, 0-255; the stored ones are JPEG) before writing
anything. Writes ``<out>/<video>_crops.h5`` per video.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def frame_crops(bgr: np.ndarray, keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(n, height, width, 3) uint8 crops of one decoded (BGR) frame's detections, as the analysis cuts them."""
    import cv2
    import torch

    from cichlid_track.crops import aligned_crops

    image = torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).permute(2, 0, 1)[None].float() / 255
    return aligned_crops(image, torch.from_numpy(keypoints)[None], size, normalized=False)[0].numpy()


def recut_crops(video, features_h5, out, every: int, near: float | None, size: tuple[int, int],
                quality: int | None, attrs: dict) -> int:
    """Writes ``out`` (the crops file layout) with the crops of every ``every``-th frame and of the fish within
    ``near`` body lengths of another on the others; returns the number of crops."""
    import cv2

    from cichlid_track.crops import close_to_another, usable_crops
    from cichlid_track.features import FeatureStore, FeatureWriter

    every = max(1, int(every))
    cap = cv2.VideoCapture(str(video))
    n = 0
    with FeatureStore(features_h5) as store:
        if store.every != 1:
            raise ValueError(f"{features_h5} holds every {store.every}th frame's detections; re-cutting needs all")
        writer = FeatureWriter(out, store.n_keypoints, 0, dtype="uint8", name="crops", item_shape=(size[1], size[0], 3),
                               jpeg_quality=quality, compression=None if quality else "gzip")
        for frame in range(store.n_frames):
            ok, bgr = cap.read()
            if not ok:
                raise ValueError(f"{video}: could not decode frame {frame} of {store.n_frames}")
            kps = np.asarray(store.keypoints(frame))
            if not len(kps):
                writer.add_frame(frame, kps, np.zeros((0, size[1], size[0], 3), np.uint8))
                continue
            crops = frame_crops(bgr, kps, size)
            keep = np.ones(len(kps), bool) if frame % every == 0 else close_to_another(kps, near) & usable_crops(crops)
            writer.add_frame(frame, kps[keep], crops[keep])
            n += int(keep.sum())
        writer.close({**attrs, "every": every, "near": near or 0})
    cap.release()
    return n


def check_against_stored(video, stored_h5, size: tuple[int, int], frames: int = 40) -> float:
    """Mean absolute difference (0-255) between the stored crops of the first ``frames`` frames that hold any and
    the same detections' crops cut again from the decoded video."""
    import cv2

    from cichlid_track.features import FeatureStore

    cap = cv2.VideoCapture(str(video))
    diffs = []
    with FeatureStore(stored_h5, name="crops") as store:
        for frame in range(store.n_frames):
            ok, bgr = cap.read()
            if not ok or len(diffs) >= frames:
                break
            kps = np.asarray(store.keypoints(frame))
            if not len(kps):
                continue
            diffs.append(np.abs(frame_crops(bgr, kps, size).astype(float) - store.features(frame)).mean())
    cap.release()
    return float(np.mean(diffs))


def main() -> None:
    import h5py
    from finished_run import load_run, run_parser

    ap = run_parser(__doc__)
    ap.add_argument("--every", type=int, required=True, help="crops of every n-th frame")
    ap.add_argument("--near", type=float, help="and of fish this close on the others (default: the run's)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--quality", type=int, help="JPEG quality (default: the run's identity.crop_quality)")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    out_dir = args.out.resolve()
    settings = load_run(args.config)
    ic = settings.config["identity"]
    size = (ic["crop_width"], ic["crop_height"])
    near = ic["crop_near"] if args.near is None else args.near
    out_dir.mkdir(parents=True, exist_ok=True)
    for vid in args.videos or list(settings.samples):
        video = settings.samples[vid].path
        stored = settings.video_file(vid, "_crops.h5")
        if args.check:
            print(f"{vid}: re-cut vs stored crops, mean |difference| {check_against_stored(video, stored, size):.2f} "
                  "of 255", flush=True)
        with h5py.File(stored, "r") as h5:
            attrs = dict(h5.attrs)
        n = recut_crops(video, settings.video_file(vid, "_bpt_features.h5"), out_dir / f"{vid}_crops.h5",
                        args.every, near, size, args.quality or ic["crop_quality"], attrs)
        print(f"{vid}: {n} crops (every {args.every}, near {near}) -> {out_dir / f'{vid}_crops.h5'}", flush=True)


if __name__ == "__main__":
    main()
