"""Step 0: keypoints a fish took from its neighbour are dropped; the body length, the unit of distances."""

from __future__ import annotations

import numpy as np

from .tracklet_io import load_tracklets_dict


STRAY_MIN_KEYPOINTS = 3  # a detection with fewer keypoints has no reliable middle to judge them by


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
        clean = {}
        for fkey, flat in frames.items():
            kps = np.array(flat, dtype=np.float64)  # a copy: (K, 4) as DLC 3 stores it, or flat x, y, likelihood
            kps = kps if kps.ndim == 2 else kps.reshape(-1, 3)
            xy = kps[:, :2]
            seen = np.isfinite(xy).all(axis=1)
            if seen.sum() >= STRAY_MIN_KEYPOINTS:
                stray = seen & (np.linalg.norm(xy - np.median(xy[seen], axis=0), axis=1) > limit_px)
                if stray.any() and (seen & ~stray).sum() >= STRAY_MIN_KEYPOINTS:
                    kps[stray, :2] = np.nan
                    kps[stray, 2] = 0.0
                    dropped += int(stray.sum())
            clean[fkey] = kps.reshape(np.shape(flat))
        out[key] = clean
    return out, dropped


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
