"""Checks of every labelled-data folder before a training dataset is built.

One row per folder of the project's ``video_sets`` with its problems: unreadable or
missing ``CollectedData_<scorer>.h5``/``.csv``, images listed but missing or
unreadable, keypoints outside the image, duplicate frames, body parts or
individuals that do not match the project config. The user's project is only read.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .project import labelled_folder_name

COLUMNS = ["folder", "images", "labelled_keypoints", "ok", "problems"]


def _read_labels(folder: Path, scorer: str):
    import pandas as pd

    h5, csv_path = folder / f"CollectedData_{scorer}.h5", folder / f"CollectedData_{scorer}.csv"
    errors = []
    if h5.exists():
        try:
            return pd.read_hdf(h5), errors
        except Exception as err:  # noqa: BLE001 - any unreadable file is a finding
            errors.append(f"{h5.name} unreadable ({type(err).__name__})")
    if csv_path.exists():
        try:
            return pd.read_csv(csv_path, header=[0, 1, 2, 3], index_col=[0, 1, 2]), errors
        except Exception as err:  # noqa: BLE001
            errors.append(f"{csv_path.name} unreadable ({type(err).__name__})")
    if not errors:
        errors.append(f"no CollectedData_{scorer}.h5 or .csv")
    return None, errors


def check_folder(folder: Path, scorer: str, bodyparts: list[str], individuals: list[str]) -> dict:
    import cv2

    row = {"folder": folder.name, "images": 0, "labelled_keypoints": 0, "problems": []}
    if not folder.is_dir():
        row["problems"].append("folder missing")
        return row
    df, errors = _read_labels(folder, scorer)
    row["problems"].extend(errors)
    if df is None:
        return row
    cols = df.columns
    names = list(cols.names)
    if "bodyparts" in names:
        found_bpts = list(dict.fromkeys(cols.get_level_values("bodyparts")))
        extra = sorted(set(found_bpts) - set(bodyparts))
        if extra:
            row["problems"].append(f"body parts not in the project config: {extra}")
    if "individuals" in names:
        found_ind = list(dict.fromkeys(cols.get_level_values("individuals")))
        extra = sorted(set(found_ind) - set(individuals) - {"single"})
        if extra:
            row["problems"].append(f"individuals not in the project config: {extra}")
    images = [i[-1] if isinstance(i, tuple) else Path(str(i)).name for i in df.index]
    row["images"] = len(images)
    dups = sorted({i for i in images if images.count(i) > 1})
    if dups:
        row["problems"].append(f"duplicate frames: {dups[:5]}")
    missing, unreadable, outside = [], [], []
    xy = df.to_numpy(dtype=float).reshape(len(df), -1, 2)
    row["labelled_keypoints"] = int(np.isfinite(xy).all(axis=-1).sum())
    for name, pts in zip(images, xy):
        path = folder / name
        if not path.exists():
            missing.append(name)
            continue
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            unreadable.append(name)
            continue
        h, w = img.shape[:2]
        ok = np.isfinite(pts).all(axis=1)
        p = pts[ok]
        if np.any((p[:, 0] < 0) | (p[:, 0] >= w) | (p[:, 1] < 0) | (p[:, 1] >= h)):
            outside.append(name)
    for what, items in (("images missing", missing), ("images unreadable", unreadable),
                        ("keypoints outside the image in", outside)):
        if items:
            row["problems"].append(f"{what}: {len(items)} ({', '.join(items[:3])}{', ...' if len(items) > 3 else ''})")
    return row


def check_project(dlc_cfg: dict, project_dir: str | Path) -> list[dict]:
    project_dir = Path(project_dir)
    bodyparts = list(dlc_cfg.get("multianimalbodyparts") or []) + list(dlc_cfg.get("uniquebodyparts") or [])
    individuals = list(dlc_cfg.get("individuals") or [])
    rows = []
    for key in (dlc_cfg.get("video_sets") or {}):
        folder = project_dir / "labeled-data" / labelled_folder_name(key)
        row = check_folder(folder, dlc_cfg["scorer"], bodyparts, individuals)
        row["ok"] = not row["problems"]
        rows.append(row)
    return rows


def write_report(rows: list[dict], path: str | Path) -> None:
    from .atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, delimiter="\t")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "problems": "; ".join(r["problems"])})


def read_report(path: str | Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [dict(r, ok=r["ok"] == "True") for r in csv.DictReader(fh, delimiter="\t")]


def bad_folders_message(bad: list[str], report: str | Path) -> str:
    return (f"labelled-data folders with problems: {', '.join(bad)} (see {report}); fix them, or add them to "
            f"exclude_labelled_data in the config, or set on_bad_labelled_data: exclude to leave them out automatically")
