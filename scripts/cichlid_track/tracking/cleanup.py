"""Step 0: keypoints a fish took from its neighbour are dropped; the body length, the unit of distances."""

from __future__ import annotations

import numpy as np

from ..dlc_pickles import seen_keypoints
from .contacts import centroids
from .tracklet_io import load_tracklets_dict


STRAY_MIN_KEYPOINTS = 3  # a detection with fewer keypoints has no reliable middle to judge them by
ONE_FISH_SPREAD = 0.7  # body lengths: no one fish's keypoints lie farther (root mean square) from their mean.
# A fish's keypoints along its body lie about 0.3 body lengths from their mean, at most 0.5 (all at its two ends);
# 0.7 leaves room for a fish 40 % longer than the video's median one


def body_length(tracks: dict) -> float:
    """Median extent (bounding-box diagonal) of the detected keypoints, every fifth detection of each
    tracklet of ``{id: {frame: (K, 3)}}``: the natural unit of distances."""
    spans = []
    for frames in tracks.values():
        for kps in list(frames.values())[::5]:
            xy = kps[:, :2]
            if np.isfinite(xy[:, 0]).sum() >= 2:
                spans.append(float(np.linalg.norm(np.nanmax(xy, axis=0) - np.nanmin(xy, axis=0))))
    spans = [s for s in spans if s > 0]
    return float(np.median(spans)) if spans else 50.0


def drop_stray_keypoints(raw: dict, limit_px: float) -> tuple[dict, int]:
    """A copy of ``_el.pickle`` content in which each keypoint farther than ``limit_px`` from the median of
    its detection's keypoints is missing (x, y NaN, likelihood 0, as DLC marks one), and how many were.

    Where fish touch, DLC's part-affinity assembly now and then gives a fish a keypoint of its
    neighbour: one point a body length away pulls the fish's centre off by a tenth of that, makes
    it look in contact, and draws a line across the tank in the labelled video.
    """
    out, dropped = {}, 0
    for key, frames in raw.items():
        if key in ("header", "single") or not isinstance(frames, dict):
            out[key] = frames
            continue
        if not frames:
            out[key] = {}
            continue
        flats = list(frames.values())
        shape = np.shape(flats[0])
        if any(np.shape(f) != shape for f in flats):  # not one array per tracklet: judge frame by frame
            clean = {}
            for fkey, flat in frames.items():
                kept, n = _drop_stray(np.array(flat, dtype=np.float64)[None], limit_px)
                clean[fkey], dropped = kept[0], dropped + n
            out[key] = clean
            continue
        kps, n = _drop_stray(np.array(flats, dtype=np.float64), limit_px)  # a copy: the user's tracklets stay
        dropped += n
        out[key] = dict(zip(frames, kps))
    return out, dropped


def keypoint_spread(xy: np.ndarray) -> np.ndarray:
    """``(n, K, >=2)`` detections -> ``(n,)`` root mean square distance of each one's seen keypoints from their
    mean (NaN with none seen)."""
    xy = np.asarray(xy, dtype=np.float64)[..., :2]
    seen = seen_keypoints(xy)  # as everywhere: NaN or DLC's -1 padding is unseen
    count = seen.sum(axis=1)
    mean = centroids(xy)
    with np.errstate(invalid="ignore", divide="ignore"):
        sq = np.where(seen, ((xy - mean[:, None]) ** 2).sum(axis=2), 0.0).sum(axis=1) / count
    return np.sqrt(sq)


def one_fish(piece, body_len: float, limit: float = ONE_FISH_SPREAD) -> bool:
    """Whether every detection of ``piece`` could be one fish: its keypoints spread no wider than ``limit`` body
    lengths (:data:`ONE_FISH_SPREAD`). Where fish touch, DLC's assembly can join parts of two or three fish into one
    detection of a few keypoints; stray-keypoint cleanup keeps those (too few keypoints to judge by a middle)."""
    spread = keypoint_spread(piece.xy)
    return not bool((spread > limit * body_len).any())


def _drop_stray(flat: np.ndarray, limit_px: float) -> tuple[np.ndarray, int]:
    """:func:`drop_stray_keypoints` on one tracklet's detections, all at once: ``(n, K, 4)`` as DLC 3 stores
    them or ``(n, 3K)`` flat x, y, likelihood; changed in place, returned in the same shape."""
    n = len(flat)
    kps = flat.reshape(n, -1, flat.shape[-1]) if flat.ndim == 3 else flat.reshape(n, -1, 3)
    xy = kps[..., :2]
    seen = np.isfinite(xy).all(axis=2)
    counted = seen.sum(axis=1) >= STRAY_MIN_KEYPOINTS
    if not counted.any():
        return flat, 0
    middle = _median_of_seen(xy[counted], seen[counted])
    far = np.zeros_like(seen)
    far[counted] = np.linalg.norm(xy[counted] - middle[:, None], axis=2) > limit_px
    stray = seen & far
    # a detection keeps its keypoints if too few would be left to call the rest a fish
    stray[(seen & ~stray).sum(axis=1) < STRAY_MIN_KEYPOINTS] = False
    kps[stray, 0:2] = np.nan
    kps[stray, 2] = 0.0
    return flat, int(stray.sum())


def _median_of_seen(xy: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per detection, the median x and y of its seen keypoints (as ``np.median`` of them): ``(n, K, 2)`` -> ``(n, 2)``."""
    ordered = np.sort(np.where(seen[..., None], xy, np.inf), axis=1)  # unseen last
    count = seen.sum(axis=1)
    rows = np.arange(len(xy))
    low = ordered[rows, (count - 1) // 2]
    high = ordered[rows, count // 2]
    return (low + high) / 2


def cleaned_tracklets(raw: dict, stray: float | None) -> tuple[dict, dict, float, int]:
    """The tracklets as both stitchers see them: ``(raw, tracks, body length, dropped)`` with stray
    keypoints (farther than ``stray`` body lengths from their fish's middle; None: none) dropped.
    The body length is measured before: the contact distance was set in its unit."""
    tracks = load_tracklets_dict(raw)
    body_len = body_length(tracks)
    if not stray or not tracks:
        return raw, tracks, body_len, 0
    raw, dropped = drop_stray_keypoints(raw, stray * body_len)
    return raw, load_tracklets_dict(raw), body_len, dropped
