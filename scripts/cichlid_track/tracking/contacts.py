"""Step 1: tracklets cut where fish touch, so that between contacts a piece is one fish."""

from __future__ import annotations

import numpy as np

from ..dlc_pickles import seen_keypoints
from .tracklet_io import frame_index, tracklet_objects


PIECE_MIN_LENGTH = 3  # DLC's minimum tracklet length; shorter pieces are placed after the flow
VANISH = 1.5  # contact distances within which a fish that vanishes has merged into another


def centroid(kps: np.ndarray) -> np.ndarray:
    xy = np.asarray(kps, dtype=np.float64)[:, :2]
    xy = xy[seen_keypoints(xy)]
    return xy.mean(axis=0) if len(xy) else np.full(2, np.nan)


def centroids(kps: np.ndarray) -> np.ndarray:
    """:func:`centroid` of many detections at once: ``(n, K, >=2)`` -> ``(n, 2)``."""
    xy = np.asarray(kps, dtype=np.float64)[..., :2]
    ok = seen_keypoints(xy)
    count = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok[..., None], xy, 0.0).sum(axis=1) / count[:, None]  # no keypoint: NaN


def contact_frames(tracks: dict, limit_px: float) -> dict:
    """{tracklet id: frames where another tracklet's centroid is closer than ``limit_px``}."""
    out = {tid: set() for tid in tracks}
    ids, frames, xy = [], [], []
    for n, (tid, track) in enumerate(tracks.items()):
        if track:
            ids.append(np.full(len(track), n))
            frames.append(np.fromiter(track, dtype=np.int64, count=len(track)))
            xy.append(centroids(np.stack(list(track.values()))))
    if not ids:
        return out
    tids = list(tracks)
    order = np.lexsort((np.concatenate(ids), np.concatenate(frames)))
    who, when, where = np.concatenate(ids)[order], np.concatenate(frames)[order], np.concatenate(xy)[order]
    # every pair of detections in one frame: the k-th neighbour in frame order, for k up to the most per frame
    most = int(np.unique(when, return_counts=True)[1].max())
    for k in range(1, most):
        same = when[k:] == when[:-k]
        close = same & (np.linalg.norm(where[k:] - where[:-k], axis=1) < limit_px)
        for i in np.flatnonzero(close):
            out[tids[who[i]]].add(int(when[i]))
            out[tids[who[i + k]]].add(int(when[i]))
    # a fish that vanishes (or appears) next to another has merged into (or come out of) its
    # detection, and the tracker may go on with either: that frame is a contact too
    at = {}  # frame -> {tracklet: centroid}, only for frames next to a tracklet's end
    needed = {f for track in tracks.values() if track for f in (min(track), max(track))}
    needed |= {f + step for f in needed for step in (-1, 1)}
    for i in np.flatnonzero(np.isin(when, np.fromiter(needed, dtype=np.int64))):
        at.setdefault(int(when[i]), {})[tids[who[i]]] = where[i]
    for tid, track in tracks.items():
        if not track:
            continue
        for f, step in ((min(track), -1), (max(track), 1)):
            here = at[f][tid]
            for other in at.get(f + step, {}):
                if other != tid and other in at[f] and np.linalg.norm(at[f][other] - here) < VANISH * limit_px:
                    out[other].add(f + step)
    return out


def jump_frames(tracks: dict, limit_px: float) -> dict:
    """{tracklet id: frames where its centroid lies more than ``limit_px`` per frame from where it was last}:
    faster than a fish swims, so the tracker has jumped to another fish there."""
    out = {}
    for tid, track in tracks.items():
        if len(track) < 2:
            continue
        frames = np.sort(np.fromiter(track, dtype=np.int64, count=len(track)))
        xy = centroids(np.stack([track[f] for f in frames]))
        ok = np.isfinite(xy).all(axis=1)
        frames, xy = frames[ok], xy[ok]
        step = np.linalg.norm(np.diff(xy, axis=0), axis=1) / np.diff(frames)
        out[tid] = set(frames[1:][step > limit_px].tolist())
    return out


def split_at_contacts(raw: dict, contacts: dict, jumps: dict | None = None) -> dict:
    """DLC's tracklet dict (``_el.pickle`` content) cut into pieces: runs of frames without contact,
    and each contact frame alone; a piece also ends before a frame in ``jumps``.
    Keys are ``(original tracklet id, piece number)``."""
    out = {k: v for k, v in raw.items() if k in ("header", "single")}
    n = 0
    for tid, frames in raw.items():
        if tid in ("header", "single") or not isinstance(frames, dict):
            continue
        touching = contacts.get(tid, set())
        jumped = (jumps or {}).get(tid, set())
        piece, prev = None, None
        for key in sorted(frames, key=frame_index):
            alone = frame_index(key) in touching
            if piece is None or alone or prev or frame_index(key) in jumped:
                piece = out.setdefault((tid, n), {})
                n += 1
            piece[key] = frames[key]
            prev = alone
    return out


def cut_pieces(raw: dict, tracks: dict, limit_px: float, jump_px: float | None = None) -> list:
    """DLC ``Tracklet`` pieces of a video's tracklets cut where fish come closer than ``limit_px``, and where
    a tracklet moves more than ``jump_px`` in a frame (None: no such cut)."""
    jumps = jump_frames(tracks, jump_px) if jump_px else None
    return tracklet_objects(split_at_contacts(raw, contact_frames(tracks, limit_px), jumps))
