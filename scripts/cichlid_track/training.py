"""Shuffle creation and (resumable) pose-model training with DeepLabCut 3.0.2.

DLC 3.0.2 traps handled here:
- ``train_network`` ignores ``pretrained: false`` and downloads ImageNet weights
  unless it is given a starting snapshot. We always give it one: randomly
  initialised, or built from a local weights file (``initial_snapshot``).
- On resume DLC *adds* the requested epochs to the snapshot's epoch, so we pass
  what remains. Optimizer state is kept in snapshots (``save_optimizer_state``)
  so a resumed run continues exactly where it stopped.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

from .atomic import atomic_path, write_text
from .project import settle_project_path

log = logging.getLogger(__name__)

_SNAPSHOT_RE = re.compile(r"^snapshot-(best-)?(\d+)\.pt$")


def set_nested(d: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        if d.get(k) is None:
            d[k] = {}
        d = d[k]
    d[keys[-1]] = value


def pytorch_config_updates(training: dict) -> dict:
    """Map our config's ``training`` section to dotted ``pytorch_config.yaml`` keys."""
    epochs = int(training["epochs"])
    eval_interval = training.get("eval_interval") or epochs + 1  # evaluating early crashes users' runs
    crop = training["crop_size"]
    crop_width, crop_height = (int(crop), int(crop)) if isinstance(crop, int) else map(int, crop)
    updates = {
        "train_settings.epochs": epochs,
        "train_settings.batch_size": int(training["batch_size"]),
        "train_settings.seed": int(training.get("seed", 42)),
        "train_settings.dataloader_workers": 0,  # load in the training process (one job, a few CPUs)
        "runner.snapshots.save_epochs": int(training["save_epochs"]),
        "runner.snapshots.max_snapshots": int(training.get("max_snapshots", 5)),
        "runner.snapshots.save_optimizer_state": True,
        "runner.eval_interval": int(eval_interval),
        "runner.optimizer.params.lr": float(training["learning_rate"]),
        "data.train.crop_sampling.width": crop_width,
        "data.train.crop_sampling.height": crop_height,
        "device": training.get("device", "auto"),
    }
    if training.get("lr_milestones") is not None:
        updates["runner.scheduler.params.milestones"] = list(training["lr_milestones"])
        updates["runner.scheduler.params.lr_list"] = [[float(v)] for v in training["lr_values"]]
    if training.get("affine_scaling"):
        updates["data.train.affine.scaling"] = list(training["affine_scaling"])
    return updates


def apply_backbone(model_cfg: dict, backbone: str | None, channels: int | None) -> None:
    """Swap the timm backbone (e.g. resnet18 for the CPU demo), keeping the head consistent."""
    if not backbone:
        return
    model_cfg["backbone"]["model_name"] = backbone
    if channels:
        model_cfg["backbone_output_channels"] = int(channels)
        for head in model_cfg.get("heads", {}).values():
            for key in ("heatmap_config", "locref_config", "paf_config"):
                if key in head and head[key] and "channels" in head[key]:
                    head[key]["channels"][0] = int(channels)


def create_shuffle(project_config: str | Path, shuffle: int, trainingset_index: int, training: dict,
                   pytorch_config_path: str | Path) -> None:
    """``create_multianimaltraining_dataset`` + our overrides of its pytorch_config.yaml."""
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    import deeplabcut

    set_aside_old_snapshots(Path(pytorch_config_path).parent)
    deeplabcut.create_multianimaltraining_dataset(
        str(project_config),
        num_shuffles=1,
        Shuffles=[int(shuffle)],
        net_type=training["net_type"],
        userfeedback=False,
    )
    path = Path(pytorch_config_path)
    if not path.exists():
        raise FileNotFoundError(f"DeepLabCut did not write {path}; check trainingset_index and shuffle")
    cfg = yaml.safe_load(path.read_text())
    for key, value in pytorch_config_updates(training).items():
        set_nested(cfg, key, value)
    apply_backbone(cfg["model"], training.get("backbone"), training.get("backbone_output_channels"))
    write_text(path, yaml.safe_dump(cfg, sort_keys=False))


def set_aside_old_snapshots(train_dir: Path) -> None:
    """A new shuffle means new training settings: snapshots of the old ones must not be resumed from.

    They are moved (not deleted) to ``<model folder>/superseded/<time>/``.
    """
    old = [p for _, _, p in list_snapshots(train_dir)] + [p for p in (train_dir / "learning_stats.csv",) if p.exists()]
    if not old:
        return
    import time

    dest = train_dir.parent / "superseded" / time.strftime("%Y%m%d-%H%M%S")
    dest.mkdir(parents=True, exist_ok=True)
    for p in old:
        p.rename(dest / p.name)
    log.info("training settings changed: %d old snapshots moved to %s", len(old), dest)


def list_snapshots(train_dir: str | Path) -> list[tuple[int, bool, Path]]:
    """(epoch, is_best, path) of every DLC snapshot in a train folder, oldest first."""
    out = []
    for p in Path(train_dir).glob("snapshot-*.pt"):
        m = _SNAPSHOT_RE.match(p.name)
        if m:
            out.append((int(m.group(2)), bool(m.group(1)), p))
    return sorted(out, key=lambda t: (t[0], t[1]))


def latest_snapshot(train_dir: str | Path, upto: int) -> tuple[int, Path] | None:
    """The newest usable snapshot at or before epoch ``upto`` (for resuming)."""
    import torch

    for epoch, _best, path in reversed(list_snapshots(train_dir)):
        if epoch > upto:
            continue
        try:
            # a snapshot cut off mid-write (job killed) must not be resumed from
            torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:  # noqa: BLE001 - any unreadable file is skipped
            log.warning("skipping unreadable snapshot %s (%s)", path.name, err)
            continue
        return epoch, path
    return None


def initial_snapshot(pytorch_config: str | Path, out: str | Path, weights: str | Path | None = None) -> dict:
    """Write a starting snapshot ``{"model": state_dict}`` without any download.

    ``weights``: optional local file, an ImageNet ResNet state dict (torchvision or timm
    names) or a DLC/SuperAnimal PyTorch snapshot; its backbone tensors are loaded.
    Returns counts of matched/skipped/missing tensors.
    """
    import torch
    from deeplabcut.pose_estimation_pytorch.models import PoseModel

    cfg = yaml.safe_load(Path(pytorch_config).read_text())
    model = PoseModel.build(cfg["model"], pretrained_backbone=False)
    report = {"matched": 0, "skipped": 0, "missing": 0}
    if weights:
        from .weights import load_backbone_weights

        report = load_backbone_weights(model, weights)
    with atomic_path(out) as tmp:
        torch.save({"model": model.state_dict()}, tmp)
    return report


def train(project_config: str | Path, shuffle: int, trainingset_index: int, pytorch_config: str | Path,
          epochs: int, final_snapshot: str | Path, weights: str | Path | None = None,
          device: str | None = None) -> Path:
    """Train (or resume) until ``final_snapshot`` (``snapshot-<epochs>.pt``) exists.

    Snapshots of an interrupted run are kept in the train folder; a re-run resumes from
    the newest readable one with its optimizer and scheduler state.
    """
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    import deeplabcut

    final_snapshot = Path(final_snapshot)
    train_dir = final_snapshot.parent
    found = latest_snapshot(train_dir, upto=epochs)
    if found and found[0] == epochs:
        log.info("snapshot for epoch %d already exists: %s", epochs, found[1].name)
        _ensure_plain_name(found[1], final_snapshot)
        return final_snapshot
    if found:
        start_epoch, start = found
        log.info("resuming from %s (epoch %d): %d epochs to go", start.name, start_epoch, epochs - start_epoch)
    else:
        start_epoch = 0
        start = train_dir.parent / "init" / "snapshot-init.pt"
        report = initial_snapshot(pytorch_config, start, weights)
        if weights:
            log.info("initial weights from %s: %d tensors matched, %d skipped, %d missing",
                     weights, report["matched"], report["skipped"], report["missing"])
        else:
            log.info("initial weights: random (no download)")
    deeplabcut.train_network(
        str(project_config),
        shuffle=int(shuffle),
        trainingsetindex=int(trainingset_index),
        snapshot_path=str(start),
        epochs=int(epochs - start_epoch),
        device=device,
    )
    last = latest_snapshot(train_dir, upto=epochs)
    if not last or last[0] != epochs:
        raise RuntimeError(f"training ended without a snapshot for epoch {epochs} in {train_dir}")
    _ensure_plain_name(last[1], final_snapshot)
    return final_snapshot


def _ensure_plain_name(found: Path, final: Path) -> None:
    """With evaluation on, the last epoch may be saved as snapshot-best-NNN.pt: give it our name too."""
    if found != final and not final.exists():
        import shutil

        with atomic_path(final) as tmp:
            shutil.copyfile(found, tmp)
