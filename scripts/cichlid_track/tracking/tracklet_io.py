"""Tracklet files: DLC's ``_el.pickle`` content as plain dicts and as DLC ``Tracklet`` objects.

``_el.pickle`` maps a tracklet id to ``{"frame012": keypoint rows}`` (plus ``header`` and ``single``);
the stitcher works on ``{id: {frame: (K, 3)}}`` dicts and on DLC's ``Tracklet`` objects built from them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

def load_tracklets(el_pickle: str | Path) -> dict[int, dict[int, np.ndarray]]:
    """``_el.pickle`` -> {tracklet id: {frame: (K, 3) x, y, likelihood}}."""
    import pickle

    with open(el_pickle, "rb") as fh:
        return load_tracklets_dict(pickle.load(fh))


def frame_index(key) -> int:
    """Frame number of an ``_el.pickle`` frame key (``"frame012"``) or an int."""
    return int(re.findall(r"\d+", key)[0]) if isinstance(key, str) else int(key)


def load_tracklets_dict(raw: dict) -> dict[int, dict[int, np.ndarray]]:
    """The content of an ``_el.pickle`` -> {tracklet id: {frame: (K, 3) x, y, likelihood}}."""
    out = {}
    for key, frames in raw.items():
        if key in ("header", "single") or not isinstance(frames, dict):
            continue
        track = {}
        for fkey, flat in frames.items():
            frame = frame_index(fkey)
            arr = np.asarray(flat, dtype=np.float64)
            if arr.ndim == 1:  # flat x, y, likelihood per keypoint
                arr = arr.reshape(-1, 3)
            track[frame] = arr[:, :3]  # DLC 3 stores (K, 4): x, y, likelihood, identity
        if track:
            out[key] = track
    return out


def as_tracklet(frames: dict):
    """One DLC ``Tracklet`` from {frame key: keypoint rows} (as DLC's ``from_dict_of_dict``)."""
    from deeplabcut.refine_training_dataset.stitch import Tracklet

    data = np.asarray(list(frames.values()), dtype=np.float64)
    if data.ndim == 2:  # flat rows
        data = data.reshape(len(data), -1, 3)
    return Tracklet(data, np.array([frame_index(k) for k in frames]))


def tracklet_objects(raw: dict) -> list:
    """DLC ``Tracklet`` objects of a tracklet dict, as DLC's stitcher makes them (rows without any
    keypoint dropped, split where frames are missing), without its all-pairs overlap table."""
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    out = []
    for key, frames in raw.items():
        if key in ("header", "single") or not isinstance(frames, dict) or not frames:
            continue
        t = TrackletStitcher.purify_tracklet(as_tracklet(frames))
        if t is None:
            continue
        breaks = np.flatnonzero(np.diff(t.inds) != 1) + 1
        out.extend(TrackletStitcher.split_tracklet(t, t.inds[breaks]) if len(breaks) else [t])
    return out


def merge(pieces: list):
    """One DLC ``Tracklet`` from pieces that do not overlap in time (built once: ``+`` re-checks the
    order of every frame each time, which is quadratic over a long video)."""
    from deeplabcut.refine_training_dataset.stitch import Tracklet

    return Tracklet(np.concatenate([t.data for t in pieces]), np.concatenate([t.inds for t in pieces]))
