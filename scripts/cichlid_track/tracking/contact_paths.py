"""Step 4b: the short pieces of a contact (single contact frames, 2-frame pieces) given to the fish along time.

Placed frame by frame, each contact frame is judged only against the curve joining a fish's pieces before and after
the contact (:func:`.leftovers.anchored_motion`). Two look-alikes that swim together for many frames then often have
both curves near both detections, and a run of frames goes to the swapped fish and back: an *excursion*, two identity
switches. Here the frames of a contact are decided together (Viterbi over its frames): a fish's path through the
contact is also scored for moving on smoothly from frame to frame (the change of its offset from the joining curve,
by the video's own motion model), so a swap and a swap back must each be paid for where they happen.

Off by default (``CONTINUITY`` 0: frame by frame, as :func:`.leftovers.place_leftovers` did before). On the easy
family's eight scenes it moved mean IDF1 0.9629 -> 0.9625 and switches 128 -> 120, and lost 0.005 on easy-9-check,
the scene it was aimed at: a contact detection's centre is off by about a tenth of a body (one in ten by over two
thirds), and in long crowded contacts the curve it is measured from is itself wrong (bench/README, session 20).
"""
from __future__ import annotations

import numpy as np

from .motion import VELOCITY_FRAMES, bridge, track_end

CONTINUITY = 0.0  # weight of the frame-to-frame smoothness of a fish's path through a contact (0: frame by frame;
# off: not better on the easy suite, module doc)
WINDOW_GAP = 2  # short pieces at most this many frames apart are one contact's
CANDIDATES = 4  # fish a short piece may go to: those it fits best (and the one frame by frame gives it)
BEAM = 128  # joint placements kept per frame
NOISE = 0.1  # a contact detection's centre is off its fish's by about this many body lengths (easy-9-check: median
# 9.6 px of 71), more than the motion model's error inside clean pieces (3.9 px a frame)
OUTLIERS = 0.3  # and this share are far off (merged or half detections; easy-9-check: 10 % over 51 px)


def windows(pieces: list, gap: int = WINDOW_GAP) -> list[list[int]]:
    """Indices of ``pieces`` grouped into runs of time, each piece starting at most ``gap`` frames after the run."""
    order = sorted(range(len(pieces)), key=lambda i: (pieces[i].start, pieces[i].end))
    out, end = [], None
    for i in order:
        if end is None or pieces[i].start > end + gap:
            out.append([])
            end = pieces[i].end
        out[-1].append(i)
        end = max(end, pieces[i].end)
    return out


def linked_groups(candidates: list[list[int]]) -> list[list[int]]:
    """Indices of pieces grouped by the fish they may go to (two pieces that share a candidate fish, directly or
    through others, are one group): groups that share no fish are decided apart."""
    parent = list(range(len(candidates)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner = {}
    for i, cands in enumerate(candidates):
        for c in cands:
            if c in owner:
                parent[root(i)] = root(owner[c])
            else:
                owner[c] = i
    groups = {}
    for i in range(len(candidates)):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if any(candidates[i] for i in g)]


class ChainCourse:
    """One fish (chain) around a piece or a contact (frames ``first``-``last``): its nearest anchors before and after
    (within ``max_gap`` frames; ``anchor``: frames x 2 centroids, NaN where none), their positions and velocities, and
    the curve that joins them (or the line carried on from the one there is): where the fish should be in between."""

    def __init__(self, anchor: np.ndarray, first: int, last: int, max_gap: int):
        n_frames = len(anchor)
        seen = np.isfinite(anchor[:, 0])
        lo = max(0, first - max_gap)
        before = np.flatnonzero(seen[lo:first])
        after = np.flatnonzero(seen[last + 1:last + 1 + max_gap])
        self.before = self.after = None
        self.pb = self.vb = self.pa = self.va = None
        if len(before):
            fb = lo + int(before[-1])
            near = np.arange(max(0, fb - VELOCITY_FRAMES + 1), fb + 1)
            self.pb, self.vb = track_end(anchor[near], near, tail=True)
            self.before = fb
        if len(after):
            fa = last + 1 + int(after[0])
            near = np.arange(fa, min(n_frames, fa + VELOCITY_FRAMES))
            self.pa, self.va = track_end(anchor[near], near, tail=False)
            self.after = fa

    def expected(self, frames) -> np.ndarray:
        """(len(frames), 2) where the fish should be (zeros where nothing says: the offset is then the position)."""
        frames = np.asarray(frames, dtype=float)
        if self.before is not None and self.after is not None and self.after > self.before:
            return bridge(self.pb, self.vb, self.pa, self.va, self.after - self.before, frames - self.before)
        if self.before is not None:
            v = self.vb if self.vb is not None else np.zeros(2)
            return self.pb + (frames - self.before)[:, None] * v
        if self.after is not None:
            v = self.va if self.va is not None else np.zeros(2)
            return self.pa - (self.after - frames)[:, None] * v
        return np.zeros((len(frames), 2))


def continuity_llr(model, err: np.ndarray, gap: np.ndarray, noise: float | None = None,
                   outliers: float | None = None) -> np.ndarray:
    """Log-likelihood ratio that a fish's offset from its course changed by ``err`` over ``gap`` frames (0 where
    ``err`` is NaN): the same fish, Rayleigh at the link model's error at that gap (:meth:`.LinkModel.motion`) widened
    by a contact detection's own error (``noise`` body lengths, default NOISE), or now and then (``outliers``, default
    OUTLIERS: merged and half detections) anywhere within a body length; against another fish, anywhere within one.
    So one bad contact detection costs at most log(outliers), not the link model's full limit."""
    noise = NOISE if noise is None else noise
    outliers = OUTLIERS if outliers is None else outliers
    gaps, sig = np.array(model.motion_error, dtype=float).T
    gap = np.maximum(np.asarray(gap, dtype=float), 1.0)
    s = np.where(gap > gaps[-1], sig[-1] * gap / gaps[-1], np.interp(gap, gaps, sig))
    s = np.sqrt(s ** 2 + (noise * model.body_len) ** 2)
    o = np.maximum(model.body_len, s)
    err = np.asarray(err, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        ratio = (o / s) ** 2 * np.exp(-err ** 2 / 2 * (1 / s ** 2 - 1 / o ** 2))  # Rayleigh same / other
        llr = np.log((1 - outliers) * ratio + outliers)
    return np.where(np.isfinite(llr), llr, 0.0)


def place_along_time(pieces: list, candidates: list[list[int]], gain: np.ndarray, centres: dict, courses: dict,
                     model, default: list[int], weight: float = CONTINUITY,
                     beam: int = BEAM) -> list[tuple[int, int]]:
    """[(piece index, chain)]: every one of a contact's short ``pieces`` given to one of its ``candidates``
    (chains), no chain two pieces at once, the placement of most total ``gain`` (each piece's own log-likelihood
    ratio for each chain) plus ``weight`` x the smoothness of every chain's path from frame to frame
    (:class:`ChainCourse`, :func:`continuity_llr`). centres: {(piece index, chain): (frames, 2) where its fish's
    centre is}; courses: {chain: ChainCourse} of every candidate; default: a valid placement (each piece's chain),
    always kept among the candidates of every frame, so that a path through the contact always exists."""
    chains = sorted(courses)
    col = {c: k for k, c in enumerate(chains)}
    n = len(chains)
    offsets = {}  # (piece, chain): its fish's offset from that chain's course at the piece's first and last frame
    for (i, c), xy in centres.items():
        ends = [pieces[i].start, pieces[i].end]
        offsets[(i, c)] = xy[[0, -1]] - courses[c].expected(ends)
    starts = sorted({pieces[i].start for i in range(len(pieces))})
    # the state: per chain, the offset from its course where it was last seen, that frame, and the frame until
    # which it holds a piece; a path begins with each chain at its anchor before (offset 0)
    off = np.full((1, n, 2), np.nan)
    seen = np.full((1, n), np.nan)
    busy = np.full((1, n), -1)
    for c, course in courses.items():
        if course.before is not None:
            off[0, col[c]] = 0.0
            seen[0, col[c]] = course.before
    score = np.zeros(1)
    history = []  # per start frame: (states, best previous state of each)
    for f in starts:
        new = [i for i in range(len(pieces)) if pieces[i].start == f]
        states = [((), 0.0)]
        for i in new:  # joint placements of the pieces starting here, best first by their own gain
            grown = []
            for chosen, g in states:
                used = {c for _, c in chosen}
                grown += [(chosen + ((i, c),), g + gain[i, c]) for c in candidates[i] if c not in used]
            states = sorted(grown, key=lambda s: -s[1])[:beam]
        fallback = tuple((i, default[i]) for i in new)
        if all(chosen != fallback for chosen, _ in states):
            states.append((fallback, float(sum(gain[i, c] for i, c in fallback))))
        total = np.full((len(score), len(states)), -np.inf)
        for k, (chosen, g) in enumerate(states):
            t = score + g
            for i, c in chosen:
                j = col[c]
                t = np.where(busy[:, j] < f, t, -np.inf)
                err = np.linalg.norm(offsets[(i, c)][0][None] - off[:, j], axis=1)
                t = t + weight * continuity_llr(model, err, f - seen[:, j])
            total[:, k] = t
        best = np.argmax(total, axis=0)
        score = total[best, np.arange(len(states))]
        off, seen, busy = off[best].copy(), seen[best].copy(), busy[best].copy()
        for k, (chosen, _) in enumerate(states):
            for i, c in chosen:
                j = col[c]
                off[k, j] = offsets[(i, c)][1]
                seen[k, j] = busy[k, j] = pieces[i].end
        history.append((states, best))
    # leaving: each chain's offset comes back to 0 at its anchor after
    end = score.copy()
    for c, course in courses.items():
        if course.after is not None:
            j = col[c]
            err = np.linalg.norm(off[:, j], axis=1)
            end = end + weight * continuity_llr(model, err, course.after - seen[:, j])
    k = int(np.argmax(end))
    out = []
    for states, best in reversed(history):
        out += list(states[k][0])
        k = int(best[k])
    return out
