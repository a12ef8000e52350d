"""Re-identification: feature lookup, triplet mining and transformer training.

Replaces three fragile parts of DLC 3.0.2 (``pose_tracking_pytorch``):

- lookup: ``query_feature_by_coord_in_img_space`` drops negative coordinate
  differences and takes the argmin of a *signed* mean, so with a few pixels of
  offset it returns another animal's features. Ours takes the detected assembly
  nearest in image space (mean Euclidean distance over keypoints present in both).
- mining: ``create_triplets_dataset`` hard-codes 3 tracks, casts NaN keypoints to
  int and can silently skip every triplet. Ours uses the real tracklets, skips
  incomplete detections explicitly, is seeded, and says why when it finds too few.
- training: DLC saves a checkpoint only every 10 epochs, into the shared model
  folder. Ours saves exactly ``dlc_transreid_<epochs>.pth`` where we are told, in
  DLC's checkpoint format, and logs accuracy per epoch.
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dlc_pickles import seen_keypoints
from .features import nearest_assembly

log = logging.getLogger(__name__)


@dataclass
class MiningResult:
    triplets: np.ndarray  # (N, 3, K, C) float32
    n_tracklets: int
    skipped_incomplete: int
    skipped_unmatched: int


def mine_triplets(tracklets: dict[int, dict[int, np.ndarray]], store, n_triplets: int, seed: int = 0,
                  min_keypoints: int | None = None, max_lookup_px: float = 3.0,
                  max_tries_factor: int = 20) -> MiningResult:
    """Anchor/positive from one tracklet, negative from another present in the anchor's frame.

    Two tracklets detected in the same frame are two different animals, whatever the number
    of animals in the tank: no hard-coded track count. Detections with fewer than
    ``min_keypoints`` keypoints, or that cannot be matched to a stored detection within
    ``max_lookup_px``, are skipped (and counted).
    """
    rng = np.random.default_rng(seed)
    k = store.n_keypoints
    min_keypoints = min_keypoints if min_keypoints is not None else max(1, k // 2)
    tracks = {tid: t for tid, t in tracklets.items() if len(t) >= 2}
    by_frame: dict[int, list[int]] = {}
    for tid, t in tracks.items():
        for f in t:
            by_frame.setdefault(f, []).append(tid)
    every = getattr(store, "every", 1)  # analysis.feature_every: only these frames hold features
    anchors = [(tid, f) for tid, t in tracks.items() for f in t if len(by_frame[f]) >= 2 and f % every == 0]
    result = MiningResult(np.zeros((0, 3, k, store.n_features), np.float32), len(tracks), 0, 0)
    if not anchors:
        return result

    def feature(tid: int, frame: int):
        kps = tracks[tid][frame]
        if np.sum(seen_keypoints(kps)) < min_keypoints:
            result.skipped_incomplete += 1
            return None
        idx, _ = nearest_assembly(kps, store.keypoints(frame), max_distance=max_lookup_px)
        if idx < 0:
            result.skipped_unmatched += 1
            return None
        return np.asarray(store.features(frame)[idx], dtype=np.float32)

    out = []
    seen = set()
    for _ in range(n_triplets * max_tries_factor):
        if len(out) >= n_triplets:
            break
        tid, fa = anchors[rng.integers(len(anchors))]
        frames = [f for f in tracks[tid] if f != fa and f % every == 0]
        if not frames:
            continue
        fp = frames[rng.integers(len(frames))]
        others = [o for o in by_frame[fa] if o != tid]
        neg = others[rng.integers(len(others))]
        key = (tid, fa, fp, neg)
        if key in seen:
            continue
        seen.add(key)
        a, p, n = feature(tid, fa), feature(tid, fp), feature(neg, fa)
        if a is None or p is None or n is None:
            continue
        out.append(np.stack([a, p, n]))
    if out:
        result.triplets = np.stack(out).astype(np.float32)
    return result


def too_few_message(sources: str, n_triplets: int, minimum: int) -> str:
    """One line for a video (or group) with too few triplets: what happens and what to do."""
    return (f"only {n_triplets} re-ID triplets in {sources} (minimum {minimum}); re-ID skipped, motion-only "
            f"tracks used. Use longer videos, put videos of the same animals in one group (sample sheet "
            f"column 'group'), or lower reid.min_triplets")


def _reid_cfg(device: str) -> dict:
    from deeplabcut.pose_tracking_pytorch.config import cfg as dlc_cfg

    cfg = dict(dlc_cfg)
    cfg["device"] = device
    return cfg


def resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def triplet_accuracy(anchor, pos, neg) -> float:
    import torch

    ap = torch.linalg.norm(anchor - pos, dim=1)
    an = torch.linalg.norm(anchor - neg, dim=1)
    return float((ap < an).float().mean())


def train_reid(triplet_files: list[str | Path], out_ckpt: str | Path, accuracy_csv: str | Path, epochs: int,
               batch_size: int = 64, train_fraction: float = 0.8, seed: int = 0, device: str | None = None,
               learning_rate: float | None = None) -> dict:
    """Train DLC's transformer re-ID model on triplets; save ``{state_dict, num_kpts, feature_dim}``."""
    import torch
    from deeplabcut.pose_tracking_pytorch.loss import easy_triplet_loss
    from deeplabcut.pose_tracking_pytorch.model import make_dlc_model
    from deeplabcut.pose_tracking_pytorch.solver import make_easy_optimizer
    from deeplabcut.pose_tracking_pytorch.solver.scheduler_factory import create_scheduler

    from .atomic import atomic_path

    device = resolve_device(device)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    train_parts, test_parts = [], []
    for f in triplet_files:
        arr = np.load(f).astype(np.float32)
        perm = rng.permutation(len(arr))
        n_train = max(1, int(len(arr) * train_fraction))
        train_parts.append(arr[perm[:n_train]])
        test_parts.append(arr[perm[n_train:]])
    train = np.concatenate(train_parts)
    test = np.concatenate(test_parts)
    num_kpts, feature_dim = train.shape[2], train.shape[3]
    cfg = _reid_cfg(device)
    if learning_rate:
        cfg["base_lr"] = learning_rate
    cfg["max_epochs"] = epochs
    model = make_dlc_model(cfg, feature_dim, num_kpts).to(device)
    loss_fn = easy_triplet_loss()
    optimizer = make_easy_optimizer(cfg, model)
    scheduler = create_scheduler(cfg, optimizer)
    train_t = torch.from_numpy(train)
    test_t = torch.from_numpy(test).to(device)
    rows = []
    from tqdm import tqdm

    for epoch in tqdm(range(1, epochs + 1), desc="re-ID epochs", mininterval=5):
        scheduler.step(epoch)
        model.train()
        perm = torch.randperm(len(train_t))
        losses, correct, total = [], 0.0, 0
        for i in range(0, len(perm), batch_size):
            batch = train_t[perm[i:i + batch_size]].to(device)
            optimizer.zero_grad()
            a, p, n = model(batch[:, 0]), model(batch[:, 1]), model(batch[:, 2])
            loss = loss_fn(a, p, n)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            correct += triplet_accuracy(a.detach(), p.detach(), n.detach()) * len(batch)
            total += len(batch)
        model.eval()
        with torch.no_grad():
            test_acc = (triplet_accuracy(model(test_t[:, 0]), model(test_t[:, 1]), model(test_t[:, 2]))
                        if len(test_t) else float("nan"))
        rows.append({"epoch": epoch, "loss": float(np.mean(losses)), "train_accuracy": correct / max(total, 1),
                     "test_accuracy": test_acc})
        log.info("epoch %d: loss %.4f, train acc %.3f, test acc %.3f", epoch, rows[-1]["loss"],
                 rows[-1]["train_accuracy"], test_acc)
    with atomic_path(out_ckpt) as tmp:
        torch.save({"state_dict": model.state_dict(), "num_kpts": num_kpts, "feature_dim": feature_dim}, tmp)
    write_accuracy_csv(accuracy_csv, rows)
    return {"n_train": len(train), "n_test": len(test), "final": rows[-1]}


def write_accuracy_csv(path: str | Path, rows: list[dict]) -> None:
    from .atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["epoch", "loss", "train_accuracy", "test_accuracy"])
        w.writeheader()
        w.writerows(rows)


def save_skipped(out_ckpt: str | Path, accuracy_csv: str | Path, reason: str) -> None:
    """A re-ID 'model' that records why there is none: the stitcher then uses motion only."""
    import torch

    from .atomic import atomic_path

    with atomic_path(out_ckpt) as tmp:
        torch.save({"skipped": True, "reason": reason}, tmp)
    write_accuracy_csv(accuracy_csv, [])


def load_embedder(ckpt: str | Path, device: str | None = None):
    """DLC's transformer from a checkpoint, as a function (B, K, C) -> (B, D) unit vectors; None if skipped."""
    import torch
    from deeplabcut.pose_tracking_pytorch.model import build_dlc_transformer
    from deeplabcut.pose_tracking_pytorch.model.backbones import dlc_base_kpt_TransReID

    device = resolve_device(device)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    if state.get("skipped"):
        return None
    model = build_dlc_transformer(_reid_cfg(device), state["feature_dim"], state["num_kpts"],
                                  {"dlc_transreid": dlc_base_kpt_TransReID})
    model.load_state_dict(state["state_dict"])
    model.to(device).eval()

    def embed(x: np.ndarray, batch: int = 256) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                t = torch.from_numpy(np.asarray(x[i:i + batch], dtype=np.float32)).to(device)
                e = torch.nn.functional.normalize(model(t), dim=1)
                out.append(e.cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 1), np.float32)

    embed.feature_dim = int(state["feature_dim"])
    return embed


def train_from_triplet_files(files: list[str], out_ckpt: str | Path, accuracy_csv: str | Path, epochs: int,
                             min_triplets: int, **options) -> dict:
    """Rules ``reid_video`` / ``reid_group``: train on the triplets of one video or of a group's videos, or,
    with fewer than ``min_triplets`` in all, save a model that says why re-ID was skipped."""
    counts = {f: len(np.load(f, mmap_mode="r")) for f in files}
    total = sum(counts.values())
    if total < min_triplets:
        reason = too_few_message(", ".join(files), total, min_triplets)
        log.warning(reason)
        save_skipped(out_ckpt, accuracy_csv, reason)
        return {"skipped": reason}
    return train_reid([f for f in files if counts[f]], out_ckpt, accuracy_csv, epochs, **options)


def train_for_rule(smk) -> None:
    """The body of rules ``reid_video`` and ``reid_group`` (one script each, as every rule has)."""
    p = smk.params
    stats = train_from_triplet_files(list(smk.input), smk.output.model, smk.output.accuracy, p.epochs, p.min_triplets,
                                     batch_size=p.batch_size, train_fraction=p.train_fraction, seed=p.seed,
                                     device=p.device, learning_rate=p.learning_rate)
    print("re-ID:", stats)
