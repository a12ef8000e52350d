"""Stage ``evaluate``: DLC's ``evaluate_network`` on the chosen snapshot, its table and images copied to our targets."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from .atomic import copy_file
from .dlc_calls import dlc_snapshot_index
from .project import settle_project_path


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
    copy_file(table, out_csv)
    images = folder / f"LabeledImages_{scorer}"
    out_images_dir = Path(out_images_dir)
    tmp_dir = out_images_dir.with_name(f".{out_images_dir.name}.partial")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    shutil.copytree(images, tmp_dir)
    shutil.rmtree(out_images_dir, ignore_errors=True)
    os.replace(tmp_dir, out_images_dir)
    return {c: float(np.asarray(df[c]).ravel()[0]) for c in df.columns if np.issubdtype(df[c].dtype, np.number)}
