"""A working copy of the user's DLC project under results/.

DeepLabCut writes into its project folder (training-datasets, dlc-models-pytorch,
evaluation results, sometimes config.yaml itself). The user's project must stay
byte-identical, so DLC only ever sees a copy: a new config.yaml, and labelled
frames linked file by file (symlinks; DLC only reads them).
"""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .atomic import write_text
from .errors import CichlidError


class ProjectError(CichlidError, ValueError):
    """The DLC project (its config.yaml or labelled data) cannot be used as it is."""


def read_dlc_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"DLC project config {str(path)!r} does not exist; set 'project' in the config "
                           f"to your project's config.yaml")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ProjectError(f"{path}: not valid YAML ({str(err).splitlines()[0]}); fix the file") from err
    if not isinstance(cfg, dict):
        raise ProjectError(f"{path}: not a DeepLabCut config (expected a mapping of keys)")
    for key in ("Task", "date", "scorer", "multianimalbodyparts", "individuals"):
        if key not in cfg:
            raise ProjectError(f"{path}: key {key!r} is missing; this workflow needs a DLC multi-animal project")
    if not cfg.get("multianimalproject"):
        raise ProjectError(f"{path}: 'multianimalproject' is not true; this workflow needs a multi-animal project")
    return cfg


def labelled_folder_name(video_set_key: str) -> str:
    """DLC maps a ``video_sets`` entry to ``labeled-data/<video stem>``."""
    return Path(str(video_set_key).replace("\\", "/")).stem


def make_working_copy(user_config: str | Path, dest: str | Path, exclude: list[str] | tuple = ()) -> dict:
    """Create ``dest/config.yaml`` and ``dest/labeled-data/`` from the user's project.

    - ``project_path`` points at ``dest`` (wherever the user's project was moved from);
    - ``engine: pytorch``;
    - ``video_sets`` keeps the entries whose labelled-data folder is not excluded, re-rooted
      to ``dest/videos`` (DLC only uses the names to find ``labeled-data/<stem>``);
    - every file of the kept labelled-data folders is symlinked, never copied or modified.

    Returns a summary dict (kept and excluded folders).
    """
    user_config = Path(user_config).resolve()
    src = user_config.parent
    dest = Path(dest).resolve()
    cfg = read_dlc_config(user_config)
    exclude = set(exclude)

    video_sets = cfg.get("video_sets") or {}
    kept_sets, kept, excluded = {}, [], []
    for key, value in video_sets.items():
        folder = labelled_folder_name(key)
        if folder in exclude:
            excluded.append(folder)
            continue
        kept_sets[str(dest / "videos" / Path(str(key).replace("\\", "/")).name)] = value
        kept.append(folder)
    unknown = sorted(exclude - set(excluded))
    if unknown:
        raise ProjectError(
            f"exclude_labelled_data names {unknown}, which are not in {user_config}'s video_sets "
            f"(folders there: {sorted(labelled_folder_name(k) for k in video_sets)}); fix the names")
    if not kept:
        raise ProjectError(f"{user_config}: no labelled-data folder left to train on "
                           f"(video_sets is empty or everything is excluded)")

    for folder in kept:
        src_dir = src / "labeled-data" / folder
        if not src_dir.is_dir():
            raise ProjectError(f"{src_dir} does not exist but is listed in video_sets; add it to "
                               f"exclude_labelled_data or restore the folder")
        dst_dir = dest / "labeled-data" / folder
        dst_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(src_dir.iterdir()):
            link = dst_dir / item.name
            if link.is_symlink() or link.exists():
                if link.is_symlink() and os.readlink(link) == str(item):
                    continue
                link.unlink()
            link.symlink_to(item)
    (dest / "videos").mkdir(parents=True, exist_ok=True)

    cfg["project_path"] = str(dest)
    cfg["engine"] = "pytorch"
    cfg["video_sets"] = kept_sets
    write_text(dest / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    return {"kept": kept, "excluded": excluded}


def settle_project_path(config: str | Path) -> bool:
    """Point the working copy's ``project_path`` at where it now lies, keeping the file's timestamp.

    DLC's ``read_config`` rewrites ``project_path`` whenever the folder was moved (a results folder
    moved to another disk); done inside a job, that new timestamp makes Snakemake take the project as
    changed and train the model again on the next run. ``project_path`` says where the copy lives, it
    is not an input, so every function that hands the copy to DLC fixes it here first, with the old
    timestamp (in the library, not the rule scripts: Snakemake reruns a script rule whose script file
    changed). Returns True if changed.
    """
    config = Path(config)
    cfg = yaml.safe_load(config.read_text())
    here = config.absolute().parent
    if Path(str(cfg.get("project_path", ""))).absolute() == here:
        return False
    stamp = config.stat()
    cfg["project_path"] = str(here)
    write_text(config, yaml.safe_dump(cfg, sort_keys=False))
    os.utime(config, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    return True
