"""Why a video's tracklets fall into short pieces: per video of a finished run, how often stitching's cuts fire and how
many small detections are not one fish (judged against the generator's ground truth).

    python bench/piece_cuts.py --config /tmp/suite60/easy/config.yaml [--videos easy-6-fast-dark ...]

Per video: DLC's tracklets and their detections (after the stray-keypoint cleanup), the fish-frames of the ground
truth, the pieces stitching cuts them into (``reid.contact``, ``reid.jump``), the detections within ``reid.contact``
of another and the steps longer than ``reid.jump`` (per 100 detections), the pieces with 2+ crops on the regular
frames and the stretches where all fish are present among them (what the identity network needs). Last, the
detections of at most 5 keypoints and how many of them are *not one fish*: fewer than 2/3 of their keypoints lie
within a quarter of a body of the same part of one ground-truth fish. A diagnosis; the ground truth is never used to
stitch.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def not_one_fish(truth: np.ndarray, frame: int, kps: np.ndarray, body_len: float) -> bool:
    """truth: (frames, fish, K, 2); kps: (K, >=2) of one detection."""
    from cichlid_track.dlc_pickles import seen_keypoints

    xy = np.asarray(kps, dtype=float)[:, :2]
    ok = seen_keypoints(xy)
    near = np.linalg.norm(truth[frame][:, ok] - xy[ok][None], axis=2) < 0.25 * body_len  # fish x keypoints
    return bool(near.mean(axis=1).max() < 2 / 3)


def main() -> None:
    from finished_run import load_run, run_parser

    from cichlid_track import dlc_pickles
    from cichlid_track.features import FeatureStore
    from cichlid_track.metrics import read_truth
    from cichlid_track.tracking.cleanup import cleaned_tracklets
    from cichlid_track.tracking.contacts import contact_frames, jump_frames
    from cichlid_track.tracking.identity_net import global_fragments, piece_crops
    from cichlid_track.tracking.stitch import video_pieces

    args = run_parser(__doc__).parse_args()
    settings = load_run(args.config)
    cfg = settings.config
    contact, jump = cfg["reid"]["contact"], cfg["reid"]["jump"]
    print("| video | tracklets | detections / fish-frames | pieces | in contact per 100 | jumps per 100 | pieces with "
          "2+ crops | stretches of all fish apart | detections of <= 5 keypoints: not one fish |")
    print("|---|---|---|---|---|---|---|---|---|")
    for vid in args.videos or list(settings.samples):
        truth_df = read_truth(Path(cfg["ground_truth"]) / f"{vid}.csv")
        fish = list(dict.fromkeys(truth_df.columns.get_level_values(0)))
        truth = np.stack([truth_df[f].to_numpy(float).reshape(len(truth_df), -1, 2) for f in fish], axis=1)
        raw, tracks, body_len, _ = cleaned_tracklets(dlc_pickles.load(settings.video_file(vid, "_el.pickle")),
                                                     cfg["tracking"]["stray_keypoints"])
        n_det = sum(len(t) for t in tracks.values())
        touching = sum(len(v) for v in contact_frames(tracks, contact * body_len).values())
        jumped = sum(len(v) for v in jump_frames(tracks, jump * body_len).values()) if jump else 0
        pieces = video_pieces(raw, tracks, body_len, contact, jump)
        with FeatureStore(settings.video_file(vid, "_crops.h5"), name="crops") as store:
            crops = piece_crops(pieces, store)
        stretches = global_fragments([t for t in pieces if t in crops], settings.n_tracks_of(vid))
        small = bad = 0
        for track in tracks.values():
            for frame, kps in track.items():
                if dlc_pickles.seen_keypoints(kps).sum() <= 5:
                    small += 1
                    bad += not_one_fish(truth, frame, kps, body_len)
        fish_frames = int(np.isfinite(truth).all(axis=(2, 3)).sum())
        print(f"| {vid} | {len(tracks)} | {n_det} / {fish_frames} | {len(pieces)} | {100 * touching / n_det:.1f} | "
              f"{100 * jumped / n_det:.1f} | {len(crops)} | {len(stretches)} | {bad} of {small} |", flush=True)


if __name__ == "__main__":
    main()
