"""Step 2a: appearance cues per piece (re-ID transformer embedding, body colour), sampled once per detection."""

from __future__ import annotations

import numpy as np

from ..features import nearest_assembly


EMBEDDED_FRAMES = 30  # frames per piece whose embeddings are averaged


def unit_vector(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def sampled_detections(pieces: list, store, max_frames: int = EMBEDDED_FRAMES, any_frame: bool = False) -> list[tuple]:
    """(piece, i, frame, row): up to ``max_frames`` detections of each piece, spread over the frames that hold
    features, with the row of the stored detection it holds (one lookup each, shared by every appearance cue).
    any_frame: also frames off the store's regular ``every``-th ones that hold rows (the crops analysis keeps
    where fish are close, ``identity.crop_near``); one lookup per frame, for short pieces."""
    every = getattr(store, "every", 1)  # analysis.feature_every: only these frames hold features
    out = []
    for t in pieces:
        inds = np.asarray(t.inds)
        if any_frame:
            stored = np.flatnonzero([len(store.keypoints(int(f))) > 0 for f in inds])
        else:
            stored = np.flatnonzero(inds % every == 0)
        if not len(stored):
            continue
        for i in stored[np.unique(np.linspace(0, len(stored) - 1, min(len(stored), max_frames)).round().astype(int))]:
            frame = int(t.inds[i])
            j, _ = nearest_assembly(t.data[i][:, :3], store.keypoints(frame), max_distance=3.0)
            if j >= 0:
                out.append((t, int(i), frame, j))
    return out


def _by_piece(owners: list, vectors) -> dict:
    out: dict = {}
    for t, v in zip(owners, vectors):
        out.setdefault(t, []).append(v)
    return {t: np.stack(v) for t, v in out.items()}


def piece_frame_embeddings(detections: list, store, embed) -> dict:
    """{piece: (m, D) re-ID embeddings of its sampled detections, in time order}; every piece of the
    video in one batched call."""
    if not detections:
        return {}
    batch = np.stack([np.asarray(store.features(frame)[j], dtype=np.float32) for _, _, frame, j in detections])
    return _by_piece([t for t, *_ in detections], embed(batch))


def piece_frame_colours(detections: list, store) -> dict:
    """{piece: (m, D) body-colour descriptors of its sampled detections}: the colour at each keypoint's
    body point (``body`` features), standardised over the video and scaled to unit length, so that a
    cosine compares colour patterns, not brightness of the whole tank."""
    rows, owners = [], []
    for t, i, frame, j in detections:
        present = np.isfinite(t.data[i][:, :2]).all(1)
        if present.sum() < 2:
            continue
        f = np.asarray(store.features(frame)[j], dtype=np.float32)
        rows.append(np.where(present[:, None], f, f[present].mean(0)).reshape(-1))  # missing: the fish's mean
        owners.append(t)
    if len(rows) < 2:
        return {}
    x = np.stack(rows)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    return _by_piece(owners, x)


def piece_means(cues: dict) -> dict:
    """{cue: {piece: unit mean of its frame vectors}}."""
    return {name: {t: unit_vector(e.mean(0)) for t, e in per_piece.items()} for name, per_piece in cues.items()}


def similarities(means: dict, a, b) -> dict:
    """{cue: cosine of a's and b's means} for the cues both pieces have; b may be a vector per cue."""
    out = {}
    for name, m in means.items():
        vb = b.get(name) if isinstance(b, dict) else m.get(b)
        if a in m and vb is not None:
            out[name] = float(m[a] @ vb)
    return out
