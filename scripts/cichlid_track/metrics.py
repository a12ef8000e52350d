"""Tracking quality against ground truth (py-motmetrics: IDF1, MOTA, switches; TrackEval: HOTA) and per-video QC
numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd


def centroids(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Mean keypoint position of each individual per frame (NaN where nothing is tracked)."""
    out = {}
    for ind in df.columns.get_level_values("individuals").unique():
        sub = df.xs(ind, level="individuals", axis=1)
        x = sub.xs("x", level="coords", axis=1).to_numpy(float)
        y = sub.xs("y", level="coords", axis=1).to_numpy(float)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[ind] = np.c_[np.nanmean(x, axis=1), np.nanmean(y, axis=1)]
    return out


def mot_metrics(truth: pd.DataFrame, tracks: pd.DataFrame, max_px: float = 20.0) -> dict:
    """IDF1, MOTA and identity switches (py-motmetrics) of ``tracks`` against ``truth``, matching centroids within
    ``max_px``; and HOTA with its detection and association parts (TrackEval), see :func:`hota`."""
    import motmetrics as mm

    # motmetrics wants numeric ids: individuals are numbered in column order
    gt = dict(enumerate(centroids(truth).values()))
    hyp = dict(enumerate(centroids(tracks).values()))
    acc = mm.MOTAccumulator(auto_id=False)
    frames = []
    for f in range(len(truth)):
        g_ids = [k for k, v in gt.items() if np.all(np.isfinite(v[f]))]
        h_ids = [k for k, v in hyp.items() if f < len(v) and np.all(np.isfinite(v[f]))]
        g_xy = np.array([gt[k][f] for k in g_ids]).reshape(-1, 2)
        h_xy = np.array([hyp[k][f] for k in h_ids]).reshape(-1, 2)
        acc.update(g_ids, h_ids, mm.distances.norm2squared_matrix(g_xy, h_xy, max_d2=max_px ** 2), frameid=f)
        frames.append((g_ids, h_ids, np.linalg.norm(g_xy[:, None] - h_xy[None], axis=2)))
    s = mm.metrics.create().compute(acc, metrics=["idf1", "mota", "num_switches"], name="video")
    return {"IDF1": float(s["idf1"].iloc[0]), "MOTA": float(s["mota"].iloc[0]),
            "ID switches": int(s["num_switches"].iloc[0]), **hota(frames, len(gt), len(hyp), max_px)}


def hota(frames: list, n_truth: int, n_tracks: int, max_px: float) -> dict:
    """HOTA, DetA and AssA (TrackEval's HOTA metric, averaged over its 19 thresholds) of per-frame
    ``(truth ids, track ids, centroid distances)``. A point has no box to overlap, so the similarity of a
    truth and a track is ``1 - distance / max_px`` (0 beyond): at threshold 0.5 a match must lie within half
    of ``max_px``, and HOTA also rewards where the track is, as it does for boxes."""
    from trackeval.metrics import HOTA

    metric = HOTA({"PRINT_CONFIG": False})
    data = {"num_gt_ids": n_truth, "num_tracker_ids": n_tracks,
            "num_gt_dets": sum(len(g) for g, _, _ in frames), "num_tracker_dets": sum(len(h) for _, h, _ in frames),
            "gt_ids": [np.asarray(g, dtype=int) for g, _, _ in frames],
            "tracker_ids": [np.asarray(h, dtype=int) for _, h, _ in frames],
            "similarity_scores": [np.clip(1.0 - d / max_px, 0.0, 1.0) for _, _, d in frames]}
    with np.errstate(invalid="ignore", divide="ignore"):  # ids never seen: 0/0, unused
        res = metric.eval_sequence(data)
    return {k: float(np.mean(res[k])) for k in ("HOTA", "DetA", "AssA")}


def read_truth(path) -> pd.DataFrame:
    """Ground-truth tracks, columns individuals/bodyparts/coords: the demo generator's ``<id>.csv``, or a
    DeepLabCut ``.h5`` (scorer/individuals/bodyparts/coords, as DLC's refine GUI saves tracks)."""
    from pathlib import Path

    if Path(path).suffix == ".h5":
        df = pd.read_hdf(path)
        if df.columns.nlevels == 4:
            df = df.droplevel(0, axis=1)  # DLC's scorer level
    else:
        df = pd.read_csv(path, header=[0, 1, 2])
    if df.columns.nlevels != 3:
        raise ValueError(f"{path}: ground truth needs columns individuals/bodyparts/coords "
                         f"(found {df.columns.nlevels} header rows)")
    df.columns = df.columns.set_names(["individuals", "bodyparts", "coords"])
    return df
