"""Tracklet stitching with motion and appearance.

DLC's ``TrackletStitcher`` solves a min-cost flow over tracklets; the cost of
linking tracklet i (ending) to tracklet j (starting later) is what we choose:

    cost(i, j) = d_motion(i, j) / body_length  +  appearance_weight * (1 - cos(e_i_tail, e_j_head)) / 2

- d_motion: DLC's own distance between i's last and j's first centroid (pixels),
  divided by the median body length, so "one body length away" costs 1;
- appearance: re-ID embeddings (DLC's transformer) of the detections at the two
  ends, computed once per tracklet end in batches; 0 for the same-looking fish,
  1 for opposite embeddings.

Motion alone swaps fish that cross (both candidates are equally close); appearance
alone links far-apart tracklets of look-alike fish. The sum is the negative log of
the product of two independent likelihoods (up to scale), so each cue vetoes what
the other finds implausible. DLC 3.0.2's transformer stitching instead uses
appearance alone, runs the model once per candidate pair in float64 on the CPU, and
looks features up with its buggy nearest-detection search.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .reid import nearest_assembly

log = logging.getLogger(__name__)

END_FRAMES = 3  # detections averaged at each tracklet end


@dataclass
class StitchResult:
    motion: "object"  # pandas DataFrame
    reid: "object"
    summary: dict = field(default_factory=dict)


def empty_tracks(scorer: str, individuals: list[str], bodyparts: list[str], n_frames: int):
    import pandas as pd

    cols = pd.MultiIndex.from_product([[scorer], individuals, bodyparts, ["x", "y", "likelihood"]],
                                      names=["scorer", "individuals", "bodyparts", "coords"])
    return pd.DataFrame(np.nan, index=range(n_frames), columns=cols)


def body_length(stitcher) -> float:
    """Median extent of the detected keypoints: the natural unit of motion costs."""
    spans = []
    for t in stitcher.tracklets:
        xy = t.xy[:: max(1, len(t) // 5)]
        ext = np.nanmax(xy, axis=1) - np.nanmin(xy, axis=1)
        spans.extend(np.linalg.norm(ext, axis=1).tolist())
    spans = [s for s in spans if np.isfinite(s) and s > 0]
    return float(np.median(spans)) if spans else 50.0


def end_features(tracklet, store, head: bool, max_px: float = 3.0):
    """Mean keypoint features of up to END_FRAMES detections at one end of a tracklet."""
    order = range(len(tracklet)) if head else range(len(tracklet) - 1, -1, -1)
    feats = []
    for i in order:
        frame = int(tracklet.inds[i])
        idx, _ = nearest_assembly(tracklet.data[i][:, :3], store.keypoints(frame), max_distance=max_px)
        if idx >= 0:
            feats.append(np.asarray(store.features(frame)[idx], dtype=np.float32))
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


def _run(el_pickle, n_tracks, min_length, weight_func_factory, animal_names, n_frames, split_tracklets=True):
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    stitcher = TrackletStitcher.from_pickle(str(el_pickle), n_tracks, min_length=min_length,
                                            split_tracklets=split_tracklets)
    weight = weight_func_factory(stitcher) if weight_func_factory else None
    stitcher.build_graph(weight_func=weight)
    stitcher.stitch()
    df = stitcher.format_df(animal_names)
    # DLC indexes up to the last tracked frame: we want one row per video frame
    return df.reindex(range(n_frames)), stitcher


def stitch_video(el_pickle, n_tracks: int, animal_names: list[str], n_frames: int, scorer: str,
                 bodyparts: list[str], min_length: int = 10, store=None, embed=None,
                 appearance_weight: float = 1.0) -> StitchResult:
    """Motion-only and motion+appearance stitching of one video's tracklets."""
    from .reid import load_tracklets

    summary = {"n_frames": n_frames, "reid_used": False}
    tracks = load_tracklets(el_pickle)
    summary["tracklets_before"] = len(tracks)
    if not tracks or max(len(t) for t in tracks.values()) < 3:
        log.warning("%s: no tracklet to stitch (no fish detected?); writing empty tracks", el_pickle)
        empty = empty_tracks(scorer, animal_names[:n_tracks], bodyparts, n_frames)
        summary.update(tracklets_after=0, warning="no tracklets: empty tracks written")
        return StitchResult(empty, empty.copy(), summary)
    min_length = max(3, min(min_length, max(len(t) for t in tracks.values())))

    motion_df, motion_st = _run(el_pickle, n_tracks, min_length, None, animal_names, n_frames)
    summary["tracklets_graph"] = len(motion_st.tracklets)
    summary["tracks_after"] = 0 if motion_st.tracks is None else len(motion_st.tracks)
    if store is None or embed is None:
        summary["warning"] = summary.get("warning", "re-ID unavailable: motion-only tracks used")
        return StitchResult(motion_df, motion_df.copy(), summary)

    def factory(stitcher):
        emb = tracklet_embeddings(stitcher, store, embed)
        summary["embedded_ends"] = len(emb)
        return make_weight_func(emb, body_length(stitcher), appearance_weight)

    reid_df, _ = _run(el_pickle, n_tracks, min_length, factory, animal_names, n_frames)
    summary["reid_used"] = True
    return StitchResult(motion_df, reid_df, summary)
