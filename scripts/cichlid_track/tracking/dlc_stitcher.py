"""DLC's own ``TrackletStitcher``: the motion-only stitch, and method ``tracklets`` (whole tracklets with an
appearance term in DLC's cost).

DLC 3.0.2's stitcher compares every pair of tracklets twice (its overlap table when it is built, and
``compute_max_gap`` in ``build_graph``), each comparison an ``np.isin``: quadratic in the video's length (10
minutes of 10 fish: ~1,800 tracklets, 1.6 million pairs). :func:`run_dlc_stitcher` gets the same results from
a sweep over start times (only tracklets whose time spans overlap can share a frame) and passes the same
``max_gap``, computed by bisection. Its ``stitch`` then joins each track's tracklets with ``sum(path)``, one
``Tracklet.__add__`` (a copy of the whole track so far) per tracklet: also quadratic. :func:`tracklet_sum` joins
them with one concatenation and gives the same track.
"""

from __future__ import annotations

import bisect
import contextlib
from itertools import combinations

import numpy as np

from ..features import nearest_assembly


END_FRAMES = 3  # tracklets method: detections averaged at each tracklet end


def detection_features(tracklet, i: int, store, max_px: float = 3.0):
    """Stored features of the detection a tracklet holds at its i-th frame, or None if none matches."""
    frame = int(tracklet.inds[i])
    j, _ = nearest_assembly(tracklet.data[i][:, :3], store.keypoints(frame), max_distance=max_px)
    return np.asarray(store.features(frame)[j], dtype=np.float32) if j >= 0 else None


def end_features(tracklet, store, head: bool, max_px: float = 3.0):
    """Mean keypoint features of up to END_FRAMES detections at one end of a tracklet."""
    order = range(len(tracklet)) if head else range(len(tracklet) - 1, -1, -1)
    feats = []
    for i in order:
        f = detection_features(tracklet, i, store, max_px)
        if f is not None:
            feats.append(f)
        if len(feats) >= END_FRAMES:
            break
    return np.mean(feats, axis=0) if feats else None


def tracklet_embeddings(stitcher, store, embed) -> dict:
    """{(tracklet, 'head'|'tail'): unit embedding}, computed in one batch."""
    keys, batch = [], []
    for t in stitcher.tracklets:
        for end in ("head", "tail"):
            f = end_features(t, store, head=(end == "head"))
            if f is not None:
                keys.append((t, end))
                batch.append(f)
    if not batch:
        return {}
    emb = embed(np.stack(batch))
    return dict(zip(keys, emb))


def make_weight_func(embeddings: dict, scale: float, appearance_weight: float):
    def weight(t1, t2):
        first, second = (t1, t2) if t1 < t2 else (t2, t1)
        cost = first.distance_to(second) / scale
        a, b = embeddings.get((first, "tail")), embeddings.get((second, "head"))
        if a is not None and b is not None:
            cost += appearance_weight * (1.0 - float(np.dot(a, b))) / 2.0
        else:
            cost += appearance_weight * 0.5  # unknown appearance: neutral
        return cost

    return weight


def pairs_with_overlapping_spans(items, r: int = 2):
    """The pairs of ``itertools.combinations(items, 2)`` whose time spans overlap, in the same order.

    Tracklets sorted by start (as DLC's stitcher holds them): for each one, the later ones up to the first
    that starts after it ends. Anything else (another ``r``, unsorted items) gets plain ``combinations``."""
    items = list(items)
    starts = [t.start for t in items]
    if r != 2 or starts != sorted(starts):
        yield from combinations(items, r)
        return
    for i, a in enumerate(items):
        for b in items[i + 1:bisect.bisect_right(starts, a.end, lo=i + 1)]:
            yield a, b


@contextlib.contextmanager
def overlap_table_by_sweep():
    """While DLC's ``TrackletStitcher`` is built, its table of overlapping tracklets (``_lu_overlap``: pairs
    that share a frame, which needs overlapping spans) is filled from :func:`pairs_with_overlapping_spans`."""
    from deeplabcut.refine_training_dataset import stitch as dlc_stitch

    original = dlc_stitch.combinations
    dlc_stitch.combinations = pairs_with_overlapping_spans
    try:
        yield
    finally:
        dlc_stitch.combinations = original


def tracklet_sum(items, start=0):
    """``sum(tracklets)`` as DLC's ``Tracklet.__add__`` chain computes it, in one concatenation.

    Each ``__add__`` concatenates and stably sorts by frame, so the chain's result is the stable sort of all
    the tracklets' rows in order; a single tracklet is returned as itself (``0 + t`` is ``t``). Anything but a
    list of Tracklets from 0 is summed as Python would."""
    from deeplabcut.refine_training_dataset.stitch import Tracklet

    items = list(items)
    if not (isinstance(start, int) and start == 0 and items and all(isinstance(t, Tracklet) for t in items)):
        return sum(items, start)
    if len(items) == 1:
        return items[0]
    return Tracklet(np.concatenate([t.data for t in items]), np.concatenate([t.inds for t in items]))


@contextlib.contextmanager
def tracks_joined_at_once():
    """While DLC's ``TrackletStitcher.stitch`` runs, its ``sum`` of a path's tracklets is :func:`tracklet_sum`."""
    from deeplabcut.refine_training_dataset import stitch as dlc_stitch

    dlc_stitch.sum = tracklet_sum  # a module global shadows the builtin
    try:
        yield
    finally:
        del dlc_stitch.sum


def dlc_max_gap(tracklets) -> int:
    """DLC's ``TrackletStitcher.compute_max_gap`` without its all-pairs loop: the largest, over tracklets, of
    the gap to the nearest tracklet that starts after it ends."""
    order = sorted(tracklets, key=lambda t: t.start)
    starts = [t.start for t in order]
    gap = 0
    for i, t in enumerate(order):
        k = bisect.bisect_right(starts, t.end, lo=i + 1)
        if k < len(order):
            gap = max(gap, int(starts[k] - t.end))
    return gap


def run_dlc_stitcher(raw: dict, n_tracks, min_length, weight_func_factory, animal_names, n_frames):
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    with overlap_table_by_sweep():
        stitcher = TrackletStitcher.from_dict_of_dict(dict(raw), n_tracks, min_length=min_length)
    weight = weight_func_factory(stitcher) if weight_func_factory else None
    # DLC's default max_gap, computed without comparing every pair (0 lets DLC compute it itself)
    stitcher.build_graph(weight_func=weight, max_gap=int(1.5 * dlc_max_gap(stitcher.tracklets)))
    with tracks_joined_at_once():
        stitcher.stitch()
    df = stitcher.format_df(animal_names)
    # DLC indexes up to the last tracked frame: we want one row per video frame
    return df.reindex(range(n_frames)), stitcher
