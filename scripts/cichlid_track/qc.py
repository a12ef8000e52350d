"""Quality-control numbers and figures for the report: training, each video, the whole batch."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from .metrics import mot_metrics, read_truth

COVERAGE_FLAG = 0.8  # below this fraction of frames, a video "needs a look"
IDENTITY_FLAG = 0.5  # ... and below this fraction of track frames held by pieces the identity network is sure of


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_figure(learning_stats: str | Path, eval_table: str | Path, eval_images: list[Path], out: str | Path):
    """Loss per epoch, evaluation RMSE/mAP (train/test) and a few evaluation images."""
    import cv2

    plt = _plt()
    stats = pd.read_csv(learning_stats) if Path(learning_stats).exists() else pd.DataFrame()
    table = pd.read_csv(eval_table)
    n_img = min(3, len(eval_images))
    fig = plt.figure(figsize=(12, 7), constrained_layout=True)
    grid = fig.add_gridspec(2, max(n_img, 2))
    ax = fig.add_subplot(grid[0, 0])
    loss_col = next((c for c in stats.columns if "train" in c and "loss" in c), None)
    if loss_col:
        ax.plot(stats["step"], stats[loss_col], marker=".")
    ax.set(xlabel="epoch", ylabel="training loss", title="Training loss", yscale="log")
    ax = fig.add_subplot(grid[0, 1:] if n_img > 2 else grid[0, 1])
    metrics = {k: float(table[k].iloc[0]) for k in ("train rmse", "test rmse", "train mAP", "test mAP") if k in table}
    bars = ax.bar(list(metrics), list(metrics.values()), color=["#4c72b0", "#dd8452"] * 2)
    ax.bar_label(bars, fmt="%.1f")
    ax.set(title="Evaluation (RMSE in px, mAP in %)")
    for i, img_path in enumerate(eval_images[:n_img]):
        img = cv2.imread(str(img_path))
        a = fig.add_subplot(grid[1, i])
        if img is not None:
            a.imshow(img[..., ::-1])
        a.set_title(Path(img_path).name, fontsize=8)
        a.axis("off")
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return metrics


def _tracked_mask(tracks: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for ind in tracks.columns.get_level_values("individuals").unique():
        x = tracks.xs(ind, level="individuals", axis=1).xs("x", level="coords", axis=1)
        out[ind] = x.notna().any(axis=1).to_numpy()
    return out


def video_summary(vid: str, tracks: pd.DataFrame, motion: pd.DataFrame, assemblies_pickle, tracklets_pickle,
                  tracking_json, reid_accuracy_csv, n_expected: int, truth_csv: str | None = None) -> dict:
    with open(assemblies_pickle, "rb") as fh:
        assemblies = pickle.load(fh)
    counts = [len(v) for k, v in assemblies.items() if k != "single"]
    with open(tracklets_pickle, "rb") as fh:
        n_tracklets = sum(1 for k in pickle.load(fh) if k not in ("header", "single"))
    stitch = json.loads(Path(tracking_json).read_text())
    coverage = {k: float(v.mean()) if len(v) else 0.0 for k, v in _tracked_mask(tracks).items()}
    acc = pd.read_csv(reid_accuracy_csv) if Path(reid_accuracy_csv).exists() else pd.DataFrame()
    summary = {
        "video": vid,
        "frames": len(tracks),
        "all_fish_detected": float(np.mean([c >= n_expected for c in counts])) if counts else 0.0,
        "tracklets_before": n_tracklets,
        "tracks_after": int(sum(c > 0 for c in coverage.values())),
        "min_coverage": min(coverage.values()) if coverage else 0.0,
        "reid_used": bool(stitch.get("reid_used")),
        "reid_test_accuracy": float(acc["test_accuracy"].iloc[-1]) if len(acc) else float("nan"),
        "warning": stitch.get("warning", ""),
        "coverage": coverage,
    }
    identity = stitch.get("identity")
    if identity:  # how much of the tracks the identity network vouches for, and where it does not (report flags)
        stretches = identity.get("low_confidence_stretches", [])
        summary.update(identity_confident=identity.get("confident_frame_fraction", float("nan")),
                       identity_held_out_accuracy=identity.get("network", {}).get("held_out_accuracy"),
                       low_confidence_stretches=len(stretches),
                       low_confidence_frames=int(sum(s["end"] - s["start"] + 1 for s in stretches)))
    if truth_csv and Path(truth_csv).exists():
        truth = read_truth(truth_csv)
        for name, df in (("motion", motion), ("reid", tracks)):
            for k, v in mot_metrics(truth, df).items():
                summary[f"{name} {k}"] = v
    summary["needs_a_look"] = bool(summary["all_fish_detected"] < COVERAGE_FLAG
                                   or summary["min_coverage"] < COVERAGE_FLAG or summary["warning"]
                                   or summary.get("identity_confident", 1.0) < IDENTITY_FLAG)
    return summary


def video_figure(summary: dict, tracks: pd.DataFrame, reid_accuracy_csv, labelled_video, out) -> None:
    """Track coverage over time, re-ID accuracy per epoch and a strip of labelled frames."""
    import cv2

    plt = _plt()
    fig = plt.figure(figsize=(12, 7), constrained_layout=True)
    grid = fig.add_gridspec(2, 4)
    ax = fig.add_subplot(grid[0, :3])
    masks = _tracked_mask(tracks)
    for i, (ind, m) in enumerate(masks.items()):
        ax.fill_between(np.arange(len(m)), i - 0.4, i + 0.4, where=m, step="mid", alpha=0.8)
    ax.set(yticks=range(len(masks)), yticklabels=list(masks), xlabel="frame",
           title=f"{summary['video']}: frames tracked per individual "
                 f"({summary['tracklets_before']} tracklets -> {summary['tracks_after']} tracks)")
    ax = fig.add_subplot(grid[0, 3])
    acc = pd.read_csv(reid_accuracy_csv) if Path(reid_accuracy_csv).exists() else pd.DataFrame()
    if len(acc):
        ax.plot(acc["epoch"], acc["train_accuracy"], label="train")
        ax.plot(acc["epoch"], acc["test_accuracy"], label="test")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "re-ID skipped", ha="center", va="center")
    ax.set(xlabel="epoch", title="re-ID triplet accuracy", ylim=(0, 1.05))
    cap = cv2.VideoCapture(str(labelled_video))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    for i, f in enumerate(np.linspace(0, max(n - 1, 0), 4).astype(int)):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(f))
        ok, frame = cap.read()
        a = fig.add_subplot(grid[1, i])
        if ok:
            a.imshow(frame[..., ::-1])
        a.set_title(f"frame {f}", fontsize=8)
        a.axis("off")
    cap.release()
    fig.savefig(out, dpi=80)
    plt.close(fig)


BATCH_COLUMNS = ["video", "frames", "all_fish_detected", "tracklets_before", "tracks_after", "min_coverage",
                 "reid_used", "reid_test_accuracy", "identity_confident", "identity_held_out_accuracy",
                 "low_confidence_stretches", "low_confidence_frames", "motion IDF1", "reid IDF1", "motion HOTA", "reid HOTA",
                 "reid AssA", "motion MOTA", "reid MOTA", "motion ID switches", "reid ID switches", "needs_a_look",
                 "warning"]


def batch_table(summaries: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(summaries)
    cols = [c for c in BATCH_COLUMNS if c in df.columns]
    return df[cols].round(3)
