"""The list of videos to analyse: a sample sheet (TSV/CSV) or a folder pattern.

Parse-time code: standard library only. Every problem is a ``SampleSheetError``
with one line naming the row or file and what to do.
"""
from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import CichlidError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov")
# an id becomes a folder and a file-name prefix: no path separators, no leading dot
_ID_RE = re.compile(r"^[^/\\\x00]+$")


class SampleSheetError(CichlidError, ValueError):
    """A sample sheet, a row of it, or the videos pattern that cannot be used."""


@dataclass(frozen=True)
class Sample:
    id: str
    path: str  # absolute
    group: str  # re-ID group: videos of the same animals share one model; "" = own model
    n_fish: int | None = None  # animals in this video; None = the config's tracking.n_tracks


def _check_id(vid: str, where: str) -> None:
    if not _ID_RE.match(vid) or vid.startswith(".") or vid != vid.strip():
        raise SampleSheetError(
            f"{where}: id {vid!r} cannot be used as a folder name; use letters, digits, spaces, "
            f"'-', '_' or '.' (no '/', no leading dot or space)")


def _check_video(path: str, where: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        raise SampleSheetError(
            f"{where}: {path!r} is not a video this workflow reads ({', '.join(VIDEO_EXTENSIONS)}); "
            f"convert it or remove the row")
    if not os.path.isfile(path):
        raise SampleSheetError(f"{where}: video file {path!r} does not exist; fix the path or remove the row")
    if not os.access(path, os.R_OK):
        raise SampleSheetError(f"{where}: video file {path!r} is not readable; fix its permissions")


def _n_fish(value: str, where: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SampleSheetError(f"{where}: 'n_fish' is {value!r}; give the number of fish in this video (1, 2, ...) "
                               f"or leave it empty for the config's tracking.n_tracks")
    return int(value)


def read_sample_sheet(sheet: str | Path) -> list[dict]:
    """Rows of a TSV or CSV sample sheet as dicts (columns: id, path, optional group and n_fish)."""
    sheet = Path(sheet)
    if not sheet.is_file():
        raise SampleSheetError(f"sample sheet {str(sheet)!r} does not exist; set 'samples' in the config")
    text = sheet.read_text(encoding="utf-8-sig")
    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    if not rows:
        raise SampleSheetError(f"sample sheet {str(sheet)!r} has no rows; add one row per video (id, path)")
    if "path" not in rows[0]:
        raise SampleSheetError(f"sample sheet {str(sheet)!r} has no 'path' column; columns are id, path, group")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in rows]


def samples_from_rows(rows: list[dict], sheet_name: str, base: str | Path) -> list[Sample]:
    base = Path(base)
    samples: dict[str, Sample] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{sheet_name} row {line}" if sheet_name else f"video {row.get('path')!r}"
        path = row.get("path", "")
        if not path:
            raise SampleSheetError(f"{where}: empty 'path'; give the video file's path")
        full = str((base / os.path.expanduser(path)).absolute()) if not os.path.isabs(path) else path
        vid = row.get("id") or Path(full).stem
        _check_id(vid, where)
        _check_video(full, where)
        if vid in samples:
            raise SampleSheetError(
                f"{where}: id {vid!r} is used twice (also by {samples[vid].path!r}); "
                f"give each video a distinct id in the sample sheet's 'id' column")
        samples[vid] = Sample(id=vid, path=full, group=row.get("group", "") or "",
                              n_fish=_n_fish(row.get("n_fish", ""), where))
    return list(samples.values())


def samples_from_pattern(pattern: str, base: str | Path) -> list[Sample]:
    """All videos matching a glob pattern (``**`` allowed); ids are the file stems."""
    full = pattern if os.path.isabs(pattern) else str(Path(base) / pattern)
    paths = sorted(p for p in glob.glob(full, recursive=True) if Path(p).suffix.lower() in VIDEO_EXTENSIONS)
    if not paths:
        raise SampleSheetError(f"videos pattern {pattern!r} matches no .mp4/.avi/.mov file; fix 'videos' in the config")
    stems: dict[str, str] = {}
    for p in paths:
        if Path(p).stem in stems:
            raise SampleSheetError(
                f"videos pattern {pattern!r}: {stems[Path(p).stem]!r} and {p!r} have the same name; "
                f"use a sample sheet ('samples') to give them distinct ids")
        stems[Path(p).stem] = p
    return samples_from_rows([{"path": p} for p in paths], "", base)
