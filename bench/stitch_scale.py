"""How the re-ID stitching (method pieces) scales with video length: synthetic tracklets of N fish
swimming in a tank (random headings, DLC-like tracklets that break every ~100 frames), random
appearance features, a stand-in embedder. Prints the time of ``stitch_video`` (motion-only and re-ID
outputs) for each length.

Usage: python bench/stitch_scale.py --fish 10 --minutes 1 5 10
"""
from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np

K = 9


class Store:
    """Feature-store stand-in: detections per frame, each fish with its own feature direction."""

    def __init__(self, frames, n_features=32):
        self.frames, self.n_keypoints, self.n_features = frames, K, n_features

    def keypoints(self, f):
        return self.frames[f][0] if f < len(self.frames) else np.zeros((0, K, 3))

    def features(self, f):
        return self.frames[f][1]


def simulate(n_fish: int, n_frames: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(100, 900, (n_fish, 2))
    heading = rng.uniform(-np.pi, np.pi, n_fish)
    looks = rng.normal(size=(n_fish, 32))
    tracks, frames, current, next_id = {"header": None}, [], list(range(n_fish)), n_fish
    for tid in current:
        tracks[tid] = {}
    body = np.linspace(-30, 30, K)
    for f in range(n_frames):
        heading += rng.normal(0, 0.1, n_fish)
        pos += 3 * np.c_[np.cos(heading), np.sin(heading)]
        out = (pos < 50) | (pos > 950)
        heading[out.any(1)] += np.pi
        pos = np.clip(pos, 50, 950)
        kps = np.stack([np.c_[p[0] + body * np.cos(h), p[1] + body * np.sin(h), np.full(K, 0.9)]
                        for p, h in zip(pos, heading)])
        feats = np.repeat(looks[:, None], K, 1) + rng.normal(0, 0.5, (n_fish, K, 32))
        frames.append((kps, feats.astype(np.float32)))
        for i in range(n_fish):
            if rng.random() < 0.01:  # the tracker loses the fish: a new tracklet starts
                current[i] = next_id
                tracks[next_id] = {}
                next_id += 1
            tracks[current[i]][f"frame{f:06d}"] = np.c_[kps[i], -np.ones(K)]
    return tracks, Store(frames)


def embed(x):
    v = np.asarray(x).mean(axis=1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fish", type=int, default=10)
    p.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    p.add_argument("--fps", type=int, default=30)
    a = p.parse_args(argv)

    from cichlid_track.tracking import stitch_video
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher  # noqa: F401  (import time apart)

    print("| minutes | frames | tracklets | pieces | linked | placed after | stitch_video, both outputs (s) |")
    print("|---|---|---|---|---|---|---|")
    for minutes in a.minutes:
        n_frames = int(minutes * 60 * a.fps)
        raw, store = simulate(a.fish, n_frames)
        with tempfile.TemporaryDirectory() as tmp:
            el = Path(tmp) / "v_el.pickle"
            with open(el, "wb") as fh:
                pickle.dump(raw, fh)
            start = time.perf_counter()
            r = stitch_video(el, a.fish, [f"fish{i}" for i in range(a.fish)], n_frames, "s",
                             [f"b{i}" for i in range(K)], store=store, embed=embed)
            seconds = time.perf_counter() - start
        s = r.summary
        print(f"| {minutes:g} | {n_frames} | {s['tracklets_before']} | {s['pieces']} | {s['pieces_linked']} | "
              f"{s['pieces_placed_after']} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
