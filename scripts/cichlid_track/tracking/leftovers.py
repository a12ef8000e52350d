"""Step 4: short pieces left out of the flow (contact frames) added where they fit a chain."""

from __future__ import annotations

import warnings
from itertools import groupby

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..dlc_pickles import seen_keypoints
from .appearance import piece_means, similarities, unit_vector
from .cleanup import ONE_FISH_SPREAD, one_fish
from .contact_paths import (CANDIDATES, CONTINUITY, ChainCourse, linked_groups, place_along_time,
                            windows)
from .contacts import PIECE_MIN_LENGTH
from .flow import MAX_LINK_GAP
from .link_model import LinkModel
from .motion import end_state, extrapolation_error

IDENTITY_LIMIT = 4.0  # the most a leftover's own crops may claim for or against a fish (log-likelihood)


def keypoints(t) -> np.ndarray:
    """(frames, K, 2) keypoints of a piece, NaN where missing (DLC writes -1 or NaN)."""
    xy = np.asarray(t.xy, dtype=float)
    return np.where(seen_keypoints(xy)[..., None], xy, np.nan)


def shape_corrected_centroid(piece, anchor_kps: np.ndarray, anchor_centroid: np.ndarray) -> np.ndarray:
    """(frames, 2) where the centre of the whole fish is, judging from the piece's keypoints laid on the
    anchor's body shape: a contact detection often holds only the head or the tail, whose own mean is off by up
    to a quarter of a body, more than two touching fish are apart. Each visible keypoint, less its offset from
    the centroid in the anchor, says where the centre is; frames with none in common keep the plain centroid."""
    offsets = anchor_kps - anchor_centroid  # (K, 2)
    xy = keypoints(piece)
    both = np.isfinite(xy).all(axis=2) & np.isfinite(offsets).all(axis=1)[None]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a frame with no keypoint in common
        centre = np.nanmean(np.where(both[..., None], xy - offsets[None], np.nan), axis=1)
    return np.where(np.isfinite(centre), centre, piece.centroid)


def anchored_motion(model: LinkModel, anchor: np.ndarray, piece, max_gap: int,
                    anchor_kps: np.ndarray | None = None) -> float | None:
    """Motion log-likelihood ratio of ``piece`` belonging to the fish whose anchor centroids (frames x 2,
    NaN where none) are given: on the :func:`.motion.bridge` between the anchors around it, else carried on
    from the one within ``max_gap`` frames; None when no anchor is that close. ``anchor_kps`` (frames x K x 2):
    the anchors' keypoints, to judge a partial piece by where its whole fish would be
    (:func:`shape_corrected_centroid`, from the nearer anchor)."""
    course = ChainCourse(anchor, piece.start, piece.end, max_gap)
    fb, fa = course.before, course.after
    if fb is None and fa is None:
        return None
    centre = piece.centroid if anchor_kps is None else contact_centre(piece, course, anchor, anchor_kps)
    if fb is not None and fa is not None:
        where = course.expected(piece.inds)
        ok = np.isfinite(centre).all(axis=1)
        if not ok.any():
            return None
        err = float(np.mean(np.linalg.norm(centre[ok] - where[ok], axis=1)))
        return model.motion(err, int(min(piece.start - fb, fa - piece.end)))
    if fb is not None:
        gap = int(piece.start - fb)
        return model.motion(extrapolation_error(course.pb, course.vb, centre[0], end_state(piece, tail=False)[1], gap),
                            gap)
    gap = int(fa - piece.end)
    return model.motion(extrapolation_error(centre[-1], end_state(piece, tail=True)[1], course.pa, course.va, gap),
                        gap)


def identity_llr(probs: np.ndarray, fish: int, limit: float = IDENTITY_LIMIT) -> float:
    """Log-likelihood ratio, this fish vs any other, of a piece whose crops the identity network gives
    ``probs`` (class = chain, as :func:`.assignment.assign_identities` numbers them)."""
    p = np.clip(np.asarray(probs, dtype=float), 1e-6, 1 - 1e-6)
    return float(np.clip(np.log(p[fish]) - np.log((1 - p[fish]) / max(len(p) - 1, 1)), -limit, limit))


def place_leftovers(chains: list[list], leftovers: list, model: LinkModel, cues: dict, n_frames: int,
                    max_gap: int = MAX_LINK_GAP, min_llr: float = 0.0,
                    identity: dict | None = None, continuity: float = CONTINUITY,
                    max_spread: float = ONE_FISH_SPREAD) -> tuple[list[list], int]:
    """Add leftover pieces (longest first) to the chains where they are likelier the same fish than
    not: appearance against the chain's mean; motion against where the chain's fish should be; and, where
    ``identity`` ({piece: (probabilities over the chains, ...)}) has the piece, the identity network's word.

    Motion is judged from the chain's *anchors*, its pieces of PIECE_MIN_LENGTH frames or more (single
    contact frames are noisy: two fish's keypoints mix): between two anchors, on the curve that
    joins them (:func:`.motion.bridge`), else carried on from the one within ``max_gap`` frames. Pieces over the
    same frames (the fish of one contact) are given together, the assignment of most total likelihood
    (Hungarian), so that the first cannot take the fish that only the second fits. The short pieces (contact
    frames) come last, each contact's frames together along time (:mod:`.contact_paths`; ``continuity`` 0:
    frame by frame, each frame's pieces together); a short piece whose keypoints could not be one fish's
    (:func:`.cleanup.one_fish`, spread ``max_spread`` body lengths) is never placed. DLC's own
    add-back drops single frames and can pick the wrong track (it indexes the list of fitting tracks
    with a position in the list of all tracks)."""
    means = piece_means(cues)
    chains = [list(c) for c in chains]
    protos = []
    occupied = np.zeros((len(chains), n_frames), bool)
    anchor = np.full((len(chains), n_frames, 2), np.nan)
    n_kps = max((t.data.shape[1] for c in chains for t in c), default=1)
    anchor_kps = np.full((len(chains), n_frames, n_kps, 2), np.nan, np.float32)
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
            anchor_kps[n, t.inds] = keypoints(t)

    def gains(group: list) -> np.ndarray:
        gain = np.full((len(group), len(chains)), -np.inf)  # llr less min_llr; -inf: not this chain
        for i, piece in enumerate(group):
            for n in range(len(chains)):
                if occupied[n, piece.inds].any():  # that fish is already elsewhere then
                    continue
                llr = anchored_motion(model, anchor[n], piece, max_gap, anchor_kps[n])
                if llr is None:
                    continue
                llr += model.appearance(similarities(means, piece, protos[n]), len(piece))
                if identity and piece in identity and n < len(identity[piece][0]):
                    llr += identity_llr(identity[piece][0], n)
                gain[i, n] = llr - min_llr
        return gain

    def place(piece, n):
        chains[n].append(piece)
        occupied[n, piece.inds] = True
        if len(piece) >= PIECE_MIN_LENGTH:
            anchor[n, piece.inds] = piece.centroid
            anchor_kps[n, piece.inds] = keypoints(piece)

    placed = 0
    order = sorted(leftovers, key=lambda t: (-len(t), t.start, t.end))
    short = [t for t in order if len(t) < PIECE_MIN_LENGTH]
    long_pieces = order[:len(order) - len(short)]
    # a contact frame's detection of parts of several fish is no fish's: left out, its fish's frame is filled
    # from the frames around it (fill_gaps) instead of put on a neighbour or beside the fish (bench/README,
    # session 21: easy family mean IDF1 0.963 -> 0.966, switches 128 -> 115)
    short = [t for t in short if one_fish(t, model.body_len, max_spread)]
    for _, same_frames in groupby(long_pieces, key=lambda t: (len(t), t.start, t.end)):
        group = list(same_frames)
        for i, n in frame_by_frame(group, gains(group)).items():
            place(group[i], n)
            placed += 1
    # the short pieces (contact frames), once every anchor is in place: which of a contact's pieces are fish is
    # decided frame by frame, as above; which fish each is, for the whole contact together, along time
    for window in windows(short):
        group = [short[i] for i in window]
        gain = gains(group)
        chosen = frame_by_frame(group, gain)
        if continuity <= 0:
            for i, n in chosen.items():
                place(group[i], n)
            placed += len(chosen)
            continue
        keep = sorted(chosen)
        candidates = [sorted({int(c) for c in np.argsort(-gain[i])[:CANDIDATES] if np.isfinite(gain[i, c])}
                             | {chosen[i]})
                      for i in keep]
        for linked in linked_groups(candidates):
            sub = [group[keep[k]] for k in linked]
            first, last = min(t.start for t in sub), max(t.end for t in sub)
            courses = {c: ChainCourse(anchor[c], first, last, max_gap) for k in linked for c in candidates[k]}
            centres = {(j, c): contact_centre(sub[j], courses[c], anchor[c], anchor_kps[c])
                       for j, k in enumerate(linked) for c in candidates[k]}
            for j, n in place_along_time(sub, [candidates[k] for k in linked], gain[[keep[k] for k in linked]],
                                         centres, courses, model, [chosen[keep[k]] for k in linked],
                                         weight=continuity):
                place(sub[j], n)
                placed += 1
    return chains, placed


def frame_by_frame(group: list, gain: np.ndarray) -> dict:
    """{piece index: chain} of ``group`` placed longest first, the pieces over the same frames together (the
    assignment of most total ``gain``, Hungarian), each where its gain is above 0 and its chain still free then."""
    taken = set()  # (chain, frame)
    out = {}
    order = sorted(range(len(group)), key=lambda i: (-len(group[i]), group[i].start, group[i].end))
    for _, same_frames in groupby(order, key=lambda i: (len(group[i]), group[i].start, group[i].end)):
        rows = list(same_frames)
        g = np.maximum(gain[rows], 0.0)
        for r, i in enumerate(rows):
            for n in range(g.shape[1]):
                if any((n, f) in taken for f in group[i].inds.tolist()):
                    g[r, n] = 0.0
        for r, n in zip(*linear_sum_assignment(g, maximize=True)):
            if g[r, n] > 0:
                out[rows[r]] = int(n)
                taken.update((int(n), f) for f in group[rows[r]].inds.tolist())
    return out


def contact_centre(piece, course: ChainCourse, anchor: np.ndarray, anchor_kps: np.ndarray) -> np.ndarray:
    """(frames, 2) where a piece's whole fish is, were it this chain's (:func:`shape_corrected_centroid` on the
    chain's nearer anchor, the one before on a tie); its plain centroid where the chain has no anchor near."""
    fb, fa = course.before, course.after
    if fb is None and fa is None:
        return piece.centroid
    ref = fb if fb is not None and (fa is None or piece.start - fb <= fa - piece.end) else fa
    return shape_corrected_centroid(piece, anchor_kps[ref], anchor[ref])
