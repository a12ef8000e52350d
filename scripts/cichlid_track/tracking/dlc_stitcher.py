"""DLC's own ``TrackletStitcher``: the motion-only stitch, and method ``tracklets`` (whole tracklets with an
appearance term in DLC's cost)."""

from __future__ import annotations

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


def run_dlc_stitcher(raw: dict, n_tracks, min_length, weight_func_factory, animal_names, n_frames):
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    stitcher = TrackletStitcher.from_dict_of_dict(dict(raw), n_tracks, min_length=min_length)
    weight = weight_func_factory(stitcher) if weight_func_factory else None
    stitcher.build_graph(weight_func=weight)
    stitcher.stitch()
    df = stitcher.format_df(animal_names)
    # DLC indexes up to the last tracked frame: we want one row per video frame
    return df.reindex(range(n_frames)), stitcher
