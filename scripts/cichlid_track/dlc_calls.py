"""Shared by the steps that call DeepLabCut's own functions (tracklets, evaluate, labelled video).

DLC functions find their inputs by name (``<video stem><scorer>...``) in a ``destfolder`` and write
their outputs there. Each step links exactly the inputs it is given into a private staging folder
(:func:`cichlid_track.atomic.staging_dir`), runs DLC there, and publishes the declared outputs
atomically: parallel jobs never share a writable path.
"""
from __future__ import annotations

import os
from pathlib import Path


def dlc_snapshot_index(train_dir: str | Path, snapshot: str | Path) -> int:
    """Index of ``snapshot`` in DLC's own snapshot list (what its ``snapshot_index`` means)."""
    from deeplabcut.pose_estimation_pytorch.apis.utils import get_model_snapshots
    from deeplabcut.pose_estimation_pytorch.task import Task

    snaps = get_model_snapshots("all", Path(train_dir), Task.BOTTOM_UP)
    # DLC puts the best snapshot last; "all" keeps that order
    for i, s in enumerate(snaps):
        if Path(s.path).resolve() == Path(snapshot).resolve():
            return i
    raise FileNotFoundError(f"{snapshot} is not among DLC's snapshots in {train_dir}")


def link_video(video: str | Path, folder: Path, video_id: str) -> Path:
    """A link named ``<id><ext>`` so DLC derives the output prefix from our id."""
    link = folder / f"{video_id}{Path(video).suffix}"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(video).resolve())
    return link


def link_inputs(folder: Path, files: dict[str, str | Path]) -> None:
    for name, src in files.items():
        os.symlink(Path(src).resolve(), folder / name)
