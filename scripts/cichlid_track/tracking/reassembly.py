"""Step 5: the keypoints of touching fish sorted between them, by where each fish's body should be.

Where two fish touch, DLC's part-affinity assembly now and then builds one detection from parts of both (a
mixed detection: the head of one, the tail of the other). Placing whole detections on fish cannot mend that:
whichever fish gets it gets the other's half. Here, in each frame where fish hold contact-frame detections
(pieces shorter than PIECE_MIN_LENGTH), every keypoint of those detections goes to the fish whose body should
have that keypoint there: each fish's pose is carried over the contact from its pieces on either side (the centre
on the motion curve between them, the body shape in between), and each body part's candidates are matched to the
fish by distance (Hungarian). A fish of the contact that holds no detection in that frame (its detection merged
into the other's) may get keypoints too. A body part only changes fish where the matching is clearly nearer than
the detections as they are.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..dlc_pickles import seen_keypoints
from .contacts import PIECE_MIN_LENGTH
from .flow import MAX_LINK_GAP
from .leftovers import keypoints
from .motion import VELOCITY_FRAMES, bridge, track_end

SORT_LIMIT = 0.5  # a keypoint goes to a fish only if it lies within this many body lengths of where it should be
SORT_MARGIN = 0.25  # and a body part changes only if that is this many body lengths nearer in all than as assembled
# (0.1 moved keypoints on poses carried over fast turns: more switches on easy-6 of bench/scenes.yaml)


def _mean_xy(kps: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a detection without keypoints: NaN
        return np.nanmean(kps, axis=-2)


class _Anchors:
    """Each chain's pieces of PIECE_MIN_LENGTH frames or more (its trusted frames): centre and pose per frame."""

    def __init__(self, chains: list[list], n_frames: int, n_kps: int):
        self.centre = np.full((len(chains), n_frames, 2), np.nan)
        self.pose = np.full((len(chains), n_frames, n_kps, 2), np.nan)
        for n, chain in enumerate(chains):
            for t in chain:
                if len(t) >= PIECE_MIN_LENGTH:
                    kps = keypoints(t)
                    self.pose[n, t.inds, :kps.shape[1]] = kps
                    self.centre[n, t.inds] = _mean_xy(kps)
        self.seen = np.isfinite(self.centre[..., 0])

    def predicted_pose(self, n: int, f: int, max_gap: int) -> np.ndarray | None:
        """(K, 2) where chain ``n``'s keypoints should be at frame ``f``: the centre on the :func:`bridge` between
        its anchors before and after (each within ``max_gap`` frames), the body shape blended between theirs;
        None without an anchor on both sides."""
        seen = self.seen[n]
        lo = max(0, f - max_gap)
        before = np.flatnonzero(seen[lo:f])
        after = np.flatnonzero(seen[f + 1:f + 1 + max_gap])
        if not len(before) or not len(after):
            return None
        fb, fa = lo + before[-1], f + 1 + after[0]
        near_b = np.arange(max(0, fb - VELOCITY_FRAMES + 1), fb + 1)
        near_a = np.arange(fa, min(seen.size, fa + VELOCITY_FRAMES))
        pb, vb = track_end(self.centre[n, near_b], near_b, tail=True)
        pa, va = track_end(self.centre[n, near_a], near_a, tail=False)
        centre = bridge(pb, vb, pa, va, int(fa - fb), np.array([f - fb]))[0]
        w = (f - fb) / (fa - fb)
        ob, oa = self.pose[n, fb] - self.centre[n, fb], self.pose[n, fa] - self.centre[n, fa]
        shape = np.where(np.isfinite(ob) & np.isfinite(oa), (1 - w) * ob + w * oa, np.where(np.isfinite(ob), ob, oa))
        return centre + shape


def sort_contact_keypoints(chains: list[list], body_len: float, max_gap: int = MAX_LINK_GAP,
                           limit: float = SORT_LIMIT, margin: float = SORT_MARGIN) -> tuple[list[list], int]:
    """The chains with their contact-frame detections' keypoints sorted between the fish of each contact (module
    doc), and how many keypoints changed fish. Pieces that change are new ``Tracklet`` objects; the others, and the
    input chains, are left as they are."""
    from deeplabcut.refine_training_dataset.stitch import Tracklet

    pieces = [t for c in chains for t in c]
    if len(chains) < 2 or not pieces:
        return chains, 0
    n_frames = max(t.end for t in pieces) + 1
    n_kps = max(t.data.shape[1] for t in pieces)
    anchors = _Anchors(chains, n_frames, n_kps)
    occupied = np.zeros((len(chains), n_frames), bool)
    short = {}  # frame -> [(chain, piece, row)] of contact-frame detections
    for n, chain in enumerate(chains):
        for t in chain:
            occupied[n, t.inds] = True
            if len(t) < PIECE_MIN_LENGTH:
                for row, f in enumerate(t.inds):
                    short.setdefault(int(f), []).append((n, t, row))
    limit_px, margin_px = limit * body_len, margin * body_len
    new_rows = {}  # (chain, frame) -> (K, C) data row
    moved = 0
    for f, held in sorted(short.items()):
        poses = {}
        for n, _, _ in held:
            poses.setdefault(n, anchors.predicted_pose(n, f, max_gap))
        held = [(n, t, row) for n, t, row in held if poses[n] is not None]
        if not held:
            continue
        centres = [_mean_xy(keypoints(t)[row]) for _, t, row in held]
        for n in np.flatnonzero(~occupied[:, f]):  # a fish whose detection merged into a neighbour's
            pose = anchors.predicted_pose(int(n), f, max_gap)
            if pose is not None and any(np.linalg.norm(_mean_xy(pose) - c) < limit_px for c in centres):
                poses[int(n)] = pose
        group = [n for n, p in poses.items() if p is not None]
        if len(group) < 2:
            continue
        width = held[0][1].data.shape[-1]
        rows = {n: np.full((n_kps, width), np.nan) for n in group}
        for n in group:
            rows[n][:, 2] = 0.0
        for n, t, row in held:
            rows[n][:t.data.shape[1]] = t.data[row, :, :width]
        changed = False
        for k in range(n_kps):
            cands = [(n, rows[n][k].copy()) for n, _, _ in held if seen_keypoints(rows[n][k])]
            if not cands:
                continue
            dist = np.array([[np.linalg.norm(c[:2] - poses[g][k]) if k < len(poses[g]) else np.inf for g in group]
                             for _, c in cands])
            dist = np.where(np.isfinite(dist), dist, np.inf)
            cost = np.minimum(dist, limit_px)
            src = [group.index(n) for n, _ in cands]
            now = cost[np.arange(len(cands)), src].sum()
            r, g = linear_sum_assignment(cost)
            if cost[r, g].sum() + limit_px * (len(cands) - len(r)) >= now - margin_px:
                continue
            to = dict(zip(r.tolist(), g.tolist()))
            for n in group:
                rows[n][k, :2], rows[n][k, 2] = np.nan, 0.0
            left = []
            for i, (n, c) in enumerate(cands):
                if i in to and dist[i, to[i]] < limit_px:
                    rows[group[to[i]]][k] = c
                    moved += group[to[i]] != n
                else:
                    left.append((n, c))
            for n, c in left:  # fits no fish's body: stays where it was, unless that place is now taken
                if not seen_keypoints(rows[n][k]):
                    rows[n][k] = c
            changed = True
        if changed:
            for n in group:
                new_rows[(n, f)] = rows[n]
    if not new_rows:
        return chains, 0
    out = []
    for n, chain in enumerate(chains):
        new_chain = []
        for t in chain:
            at = [i for i, f in enumerate(t.inds) if (n, int(f)) in new_rows]
            if not at:
                new_chain.append(t)
                continue
            data = t.data.copy()
            for i in at:
                data[i, :, :new_rows[(n, int(t.inds[i]))].shape[1]] = new_rows[(n, int(t.inds[i]))][:data.shape[1]]
            if seen_keypoints(data).any():
                new_chain.append(Tracklet(data, t.inds))
        for (m, f), row in new_rows.items():
            if m == n and not occupied[n, f] and seen_keypoints(row).any():
                new_chain.append(Tracklet(row[None], np.array([f])))
        out.append(new_chain)
    return out, moved
