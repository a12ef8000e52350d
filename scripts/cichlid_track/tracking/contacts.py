"""Step 1: tracklets cut where fish touch, so that between contacts a piece is one fish."""

from __future__ import annotations

import numpy as np

from .tracklet_io import frame_index, tracklet_objects


PIECE_MIN_LENGTH = 3  # DLC's minimum tracklet length; shorter pieces are placed after the flow
VANISH = 1.5  # contact distances within which a fish that vanishes has merged into another


def centroid(kps: np.ndarray) -> np.ndarray:
    xy = np.asarray(kps, dtype=np.float64)[:, :2]
    xy = xy[np.all(np.isfinite(xy) & (xy >= 0), axis=1)]
    return xy.mean(axis=0) if len(xy) else np.full(2, np.nan)


def contact_frames(tracks: dict, limit_px: float) -> dict:
    """{tracklet id: frames where another tracklet's centroid is closer than ``limit_px``}."""
    by_frame: dict[int, list] = {}
    for tid, track in tracks.items():
        for f, kps in track.items():
            by_frame.setdefault(f, []).append((tid, centroid(kps)))
    out = {tid: set() for tid in tracks}
    for f, items in by_frame.items():
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                if np.linalg.norm(items[a][1] - items[b][1]) < limit_px:
                    out[items[a][0]].add(f)
                    out[items[b][0]].add(f)
    # a fish that vanishes (or appears) next to another has merged into (or come out of) its
    # detection, and the tracker may go on with either: that frame is a contact too
    where = {f: dict(items) for f, items in by_frame.items()}
    for tid, track in tracks.items():
        for f, step in ((min(track), -1), (max(track), 1)):
            here = where[f][tid]
            for other in where.get(f + step, {}):
                if other != tid and other in where[f] and np.linalg.norm(where[f][other] - here) < VANISH * limit_px:
                    out[other].add(f + step)
    return out


def split_at_contacts(raw: dict, contacts: dict) -> dict:
    """DLC's tracklet dict (``_el.pickle`` content) cut into pieces: runs of frames without contact,
    and each contact frame alone. Keys are ``(original tracklet id, piece number)``."""
    out = {k: v for k, v in raw.items() if k in ("header", "single")}
    n = 0
    for tid, frames in raw.items():
        if tid in ("header", "single") or not isinstance(frames, dict):
            continue
        touching = contacts.get(tid, set())
        piece, prev = None, None
        for key in sorted(frames, key=frame_index):
            alone = frame_index(key) in touching
            if piece is None or alone or prev:
                piece = out.setdefault((tid, n), {})
                n += 1
            piece[key] = frames[key]
            prev = alone
    return out


def cut_pieces(raw: dict, tracks: dict, limit_px: float) -> list:
    """DLC ``Tracklet`` pieces of a video's tracklets cut where fish come closer than ``limit_px``."""
    return tracklet_objects(split_at_contacts(raw, contact_frames(tracks, limit_px)))
