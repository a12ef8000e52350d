"""Step 4: short pieces left out of the flow (contact frames) added where they fit a chain."""

from __future__ import annotations

import numpy as np

from .appearance import piece_means, similarities, unit_vector
from .contacts import PIECE_MIN_LENGTH
from .flow import MAX_LINK_GAP
from .link_model import LinkModel
from .motion import VELOCITY_FRAMES, bridge, end_state, extrapolation_error, track_end

def anchored_motion(model: LinkModel, anchor: np.ndarray, piece, max_gap: int) -> float | None:
    """Motion log-likelihood ratio of ``piece`` belonging to the fish whose anchor centroids (frames x 2,
    NaN where none) are given: on the :func:`bridge` between the anchors around it, else carried on
    from the one within ``max_gap`` frames; None when no anchor is that close."""
    n_frames = len(anchor)
    seen = np.isfinite(anchor[:, 0])
    before = np.flatnonzero(seen[max(0, piece.start - max_gap):piece.start])
    after = np.flatnonzero(seen[piece.end + 1:piece.end + 1 + max_gap])
    if len(before):
        fb = max(0, piece.start - max_gap) + before[-1]
        near = np.arange(max(0, fb - VELOCITY_FRAMES + 1), fb + 1)
        pb, vb = track_end(anchor[near], near, tail=True)
    if len(after):
        fa = piece.end + 1 + after[0]
        near = np.arange(fa, min(n_frames, fa + VELOCITY_FRAMES))
        pa, va = track_end(anchor[near], near, tail=False)
    if len(before) and len(after):
        where = bridge(pb, vb, pa, va, int(fa - fb), piece.inds - fb)
        ok = np.isfinite(piece.centroid).all(axis=1)
        if not ok.any():
            return None
        err = float(np.mean(np.linalg.norm(piece.centroid[ok] - where[ok], axis=1)))
        return model.motion(err, int(min(piece.start - fb, fa - piece.end)))
    if len(before):
        gap = int(piece.start - fb)
        return model.motion(extrapolation_error(pb, vb, *end_state(piece, tail=False), gap), gap)
    if len(after):
        gap = int(fa - piece.end)
        return model.motion(extrapolation_error(*end_state(piece, tail=True), pa, va, gap), gap)
    return None


def place_leftovers(chains: list[list], leftovers: list, model: LinkModel, cues: dict, n_frames: int,
                    max_gap: int = MAX_LINK_GAP, min_llr: float = 0.0) -> tuple[list[list], int]:
    """Add each leftover piece (longest first) to the chain where it is likelier the same fish than
    not: appearance against the chain's mean; motion against where the chain's fish should be.

    That is judged from the chain's *anchors*, its pieces of PIECE_MIN_LENGTH frames or more (single
    contact frames are noisy: two fish's keypoints mix): between two anchors, on the curve that
    joins them (:func:`bridge`), else carried on from the one within ``max_gap`` frames. DLC's own
    add-back drops single frames and can pick the wrong track (it indexes the list of fitting tracks
    with a position in the list of all tracks)."""
    means = piece_means(cues)
    chains = [list(c) for c in chains]
    protos = []
    occupied = np.zeros((len(chains), n_frames), bool)
    anchor = np.full((len(chains), n_frames, 2), np.nan)
    for n, chain in enumerate(chains):
        proto = {}
        for name, m in means.items():
            v = [m[t] * len(t) for t in chain if t in m]
            if v:
                proto[name] = unit_vector(np.sum(v, axis=0))
        protos.append(proto)
        for t in chain:
            occupied[n, t.inds] = True
            anchor[n, t.inds] = t.centroid
    placed = 0
    for piece in sorted(leftovers, key=len, reverse=True):
        best, best_llr = None, min_llr
        for n in range(len(chains)):
            if occupied[n, piece.inds].any():  # that fish is already elsewhere then
                continue
            llr = anchored_motion(model, anchor[n], piece, max_gap)
            if llr is None:
                continue
            llr += model.appearance(similarities(means, piece, protos[n]), len(piece))
            if llr > best_llr:
                best, best_llr = n, llr
        if best is not None:
            chains[best].append(piece)
            occupied[best, piece.inds] = True
            if len(piece) >= PIECE_MIN_LENGTH:
                anchor[best, piece.inds] = piece.centroid
            placed += 1
    return chains, placed
