"""Stitching with motion and appearance on a crossing that motion alone gets wrong."""
import pickle

import numpy as np

from cichlid_track.stitching import stitch_video

K = 3


class FakeStore:
    """Feature store stand-in: fish A's features point along e0, fish B's along e1."""

    def __init__(self, detections):
        self.detections = detections  # frame -> list of (kps (K,3), feature (K,C))

    n_keypoints, n_features = K, 4

    def keypoints(self, frame):
        d = self.detections.get(frame, [])
        return np.stack([k for k, _ in d]) if d else np.zeros((0, K, 3))

    def features(self, frame):
        return np.stack([f for _, f in self.detections[frame]])


def pose(x, y):
    return np.array([[x, y, 0.9], [x + 8, y, 0.9], [x + 16, y, 0.9]])


def crossing(tmp_path):
    """A swims right along y=50, B left along y=64. Both vanish for frames 10-11 while crossing;
    afterwards A reappears lower (y=70) and B higher (y=46): nearest-centroid motion swaps them."""
    tracks, dets = {}, {}
    feat = {"A": np.tile([1.0, 0, 0, 0], (K, 1)), "B": np.tile([0, 1.0, 0, 0], (K, 1))}

    def add(tid, fish, frames, xy):
        tracks[tid] = {}
        for f in frames:
            x, y = xy(f)
            p = pose(x, y)
            tracks[tid][f"frame{f:03d}"] = np.c_[p, -np.ones(K)]
            dets.setdefault(f, []).append((p, feat[fish]))

    add(0, "A", range(0, 10), lambda f: (40 + 3 * f, 50))
    add(1, "B", range(0, 10), lambda f: (110 - 3 * f, 64))
    add(2, "A", range(12, 30), lambda f: (40 + 3 * f, 70))
    add(3, "B", range(12, 30), lambda f: (110 - 3 * f, 46))
    tracks["header"] = None
    path = tmp_path / "x_el.pickle"
    with open(path, "wb") as fh:
        pickle.dump(tracks, fh)
    return path, FakeStore(dets)


def identity_of(df, ind):
    """Which fish (by its y lane at the end) the track of individual `ind` follows after the crossing."""
    y_end = df.xs(ind, level="individuals", axis=1).xs("y", level="coords", axis=1).iloc[25].mean()
    y_start = df.xs(ind, level="individuals", axis=1).xs("y", level="coords", axis=1).iloc[5].mean()
    return y_start, y_end


def embed(x):
    v = x.mean(axis=1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_appearance_fixes_the_swap_that_motion_makes(tmp_path):
    el, store = crossing(tmp_path)
    r = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], min_length=3, store=store, embed=embed,
                     appearance_weight=4.0)
    assert r.summary["reid_used"] and r.summary["embedded_ends"] == 8
    assert len(r.reid) == 30 and len(r.motion) == 30
    lanes_reid = sorted(identity_of(r.reid, i) for i in ("fish1", "fish2"))
    lanes_motion = sorted(identity_of(r.motion, i) for i in ("fish1", "fish2"))
    assert lanes_reid == [(50, 70), (64, 46)]  # A stays A, B stays B
    assert lanes_motion == [(50, 46), (64, 70)]  # motion alone swaps them


def test_without_reid_model_motion_only_is_used(tmp_path):
    el, store = crossing(tmp_path)
    r = stitch_video(el, 2, ["fish1", "fish2"], 30, "s", ["a", "b", "c"], min_length=3, store=store, embed=None)
    assert not r.summary["reid_used"] and "motion-only" in r.summary["warning"]
    assert r.reid.equals(r.motion)
