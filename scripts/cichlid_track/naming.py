"""DeepLabCut's names and paths, computed without importing deeplabcut.

The Snakefile needs every target's name at parse time. DLC derives them from the
project config and the chosen snapshot; these functions do the same with plain
Python (a test checks them against ``deeplabcut``'s own functions).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


def net_display_name(net_type: str) -> str:
    """``resnet_50`` -> ``Resnet50``, as DLC's PyTorch ``get_scorer_name`` does."""
    return "".join(p.capitalize() for p in net_type.split("_"))


def trainset_percent(train_fraction: float) -> int:
    # DLC truncates: int(0.95 * 100) == 95, int(0.9 * 100) == 90
    return int(train_fraction * 100)


@dataclass(frozen=True)
class DLCNames:
    """Names for one shuffle of one project, for one chosen snapshot."""

    task: str
    date: str
    iteration: int
    train_fraction: float
    shuffle: int
    net_type: str
    snapshot_epoch: int

    def _shuffle_folder(self, top: str) -> str:
        return str(PurePosixPath(
            top,
            f"iteration-{self.iteration}",
            f"{self.task}{self.date}-trainset{trainset_percent(self.train_fraction)}shuffle{self.shuffle}",
        ))

    @property
    def model_folder(self) -> str:
        """Relative to the project root, as ``auxiliaryfunctions.get_model_folder``."""
        return self._shuffle_folder("dlc-models-pytorch")

    @property
    def train_folder(self) -> str:
        return f"{self.model_folder}/train"

    @property
    def pytorch_config(self) -> str:
        return f"{self.train_folder}/pytorch_config.yaml"

    @property
    def snapshot(self) -> str:
        return f"{self.train_folder}/{snapshot_filename(self.snapshot_epoch)}"

    @property
    def evaluation_folder(self) -> str:
        return self._shuffle_folder("evaluation-results-pytorch")

    @property
    def scorer(self) -> str:
        return (f"DLC_{net_display_name(self.net_type)}_{self.task}{self.date}"
                f"shuffle{self.shuffle}_snapshot_{self.snapshot_epoch}")


def snapshot_filename(epoch: int) -> str:
    return f"snapshot-{epoch:03}.pt"


def names_from_config(dlc_cfg: dict, shuffle: int, trainingset_index: int, net_type: str,
                      snapshot_epoch: int) -> DLCNames:
    """Build names from a DLC project config (a dict read from its config.yaml)."""
    fractions = dlc_cfg.get("TrainingFraction") or [0.95]
    if trainingset_index >= len(fractions):
        raise ValueError(
            f"trainingset_index {trainingset_index} is out of range: the project's TrainingFraction "
            f"is {fractions}; set trainingset_index to 0..{len(fractions) - 1}")
    return DLCNames(
        task=str(dlc_cfg["Task"]),
        date=str(dlc_cfg["date"]),
        iteration=int(dlc_cfg.get("iteration", 0)),
        train_fraction=float(fractions[trainingset_index]),
        shuffle=int(shuffle),
        net_type=net_type,
        snapshot_epoch=int(snapshot_epoch),
    )


def labelled_video_suffix(pcutoff: float) -> str:
    """What ``create_labeled_video(color_by='individual', track_method='ellipse')`` appends."""
    return f"_el_id_p{int(100 * pcutoff)}_labeled.mp4"
