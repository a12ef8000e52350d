"""Calls into DeepLabCut's own functions, each isolated in a staging folder.

DLC functions find their inputs by name (``<video stem><scorer>...``) in a
``destfolder`` and write their outputs there. Each step here links exactly the
inputs it is given into a private staging folder, runs DLC there, and publishes
the declared outputs atomically: parallel jobs never share a writable path.
"""
from __future__ import annotations

import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np

from .atomic import publish, staging_dir
from .project import settle_project_path

log = logging.getLogger(__name__)


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


def _link_inputs(folder: Path, files: dict[str, str | Path]) -> None:
    for name, src in files.items():
        os.symlink(Path(src).resolve(), folder / name)


def count_detections(assemblies_pickle: str | Path) -> int:
    with open(assemblies_pickle, "rb") as fh:
        data = pickle.load(fh)
    return sum(len(v) for k, v in data.items() if k != "single" and v is not None)


def make_tracklets(project_config, shuffle, trainingset_index, snapshot, video, video_id, prefix,
                   full_pickle, assemblies_pickle, meta_pickle, out_el_pickle, track_method="ellipse") -> int:
    """``convert_detections2tracklets`` -> ``_el.pickle``. Returns the number of tracklets.

    DLC 3.0.2 fails on a video with no detection at all; such a video gets an empty
    tracklet file (with DLC's header) and a warning instead.
    """
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    out_el_pickle = Path(out_el_pickle).absolute()
    n_det = count_detections(assemblies_pickle)
    with staging_dir(out_el_pickle.parent) as tmp:
        if n_det == 0:
            log.warning("%s: no fish detected in any frame; writing empty tracklets", video)
            with open(tmp / "el.pickle", "wb") as fh:
                pickle.dump({"header": None}, fh, pickle.HIGHEST_PROTOCOL)
            publish(tmp / "el.pickle", out_el_pickle)
            return 0
        import deeplabcut.pose_estimation_pytorch.apis as dlc_api

        _link_inputs(tmp, {f"{prefix}_full.pickle": full_pickle, f"{prefix}_assemblies.pickle": assemblies_pickle,
                           f"{prefix}_meta.pickle": meta_pickle})
        link = link_video(video, tmp, video_id)
        dlc_api.convert_detections2tracklets(
            str(project_config), videos=[str(link)], shuffle=shuffle, trainingsetindex=trainingset_index,
            destfolder=str(tmp), track_method=track_method,
            snapshot_index=dlc_snapshot_index(Path(snapshot).parent, snapshot), overwrite=True)
        produced = tmp / f"{prefix}_el.pickle"
        with open(produced, "rb") as fh:
            n = sum(1 for k in pickle.load(fh) if k not in ("header", "single"))
        publish(produced, out_el_pickle)
    return n


def labelled_video(project_config, shuffle, trainingset_index, snapshot, video, video_id, prefix, tracks_h5,
                   meta_pickle, out_mp4, trailpoints=10, pcutoff=None) -> None:
    """``create_labeled_video`` coloured by individual, with trails, from our ``_el.h5``."""
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    import deeplabcut

    out_mp4 = Path(out_mp4).absolute()
    with staging_dir(out_mp4.parent) as tmp:
        _link_inputs(tmp, {f"{prefix}_el.h5": tracks_h5, f"{prefix}_meta.pickle": meta_pickle})
        link = link_video(video, tmp, video_id)
        deeplabcut.create_labeled_video(
            str(project_config), [str(link)], shuffle=shuffle, trainingsetindex=trainingset_index,
            color_by="individual", trailpoints=trailpoints, track_method="ellipse", destfolder=str(tmp),
            pcutoff=pcutoff, overwrite=True,
            snapshot_index=dlc_snapshot_index(Path(snapshot).parent, snapshot))
        made = sorted(tmp.glob(f"{prefix}*labeled.mp4"))
        if not made:
            raise RuntimeError(f"create_labeled_video wrote no video for {video}")
        publish(made[0], out_mp4)


def evaluate(project_config, shuffle, trainingset_index, snapshot, evaluation_folder, scorer, out_csv,
             out_images_dir) -> dict:
    """``evaluate_network`` on the chosen snapshot; copy its table and plots to our targets."""
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    import deeplabcut
    import pandas as pd

    idx = dlc_snapshot_index(Path(snapshot).parent, snapshot)
    deeplabcut.evaluate_network(str(project_config), Shuffles=[shuffle], trainingsetindex=trainingset_index,
                                snapshotindex=idx, plotting=True)
    folder = Path(evaluation_folder)
    table = folder / f"{scorer}-results.csv"
    if not table.exists():
        found = sorted(folder.glob("*-results.csv"))
        raise FileNotFoundError(f"evaluate_network wrote no {table.name} (found {[f.name for f in found]})")
    df = pd.read_csv(table, index_col=0)
    from .atomic import copy_file

    copy_file(table, out_csv)
    images = folder / f"LabeledImages_{scorer}"
    out_images_dir = Path(out_images_dir)
    tmp_dir = out_images_dir.with_name(f".{out_images_dir.name}.partial")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    shutil.copytree(images, tmp_dir)
    shutil.rmtree(out_images_dir, ignore_errors=True)
    os.replace(tmp_dir, out_images_dir)
    return {c: float(np.asarray(df[c]).ravel()[0]) for c in df.columns if np.issubdtype(df[c].dtype, np.number)}
