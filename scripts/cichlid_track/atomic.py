"""Write outputs so an interrupted job never leaves a file that looks complete.

Everything is written under a temporary name in the destination's folder (same
file system, so the final ``os.replace`` is atomic) and renamed at the end. A job killed outright (SIGKILL, a
wall-time limit past its grace period) cannot clean up: the next job writing the same output removes what that one
left (an hour-long video's half-written features can weigh gigabytes on a scratch quota). Snakemake never runs two
jobs for one output at once, so what carries the same output's or stage's name is always a dead job's.
"""
from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def remove_leftovers(folder: Path, pattern: str) -> None:
    """Delete what an interrupted job left in ``folder`` (files or folders matching ``pattern``)."""
    for old in sorted(folder.glob(pattern)):
        if old.is_dir():
            size = sum(p.stat().st_size for p in old.rglob("*") if p.is_file())
            shutil.rmtree(old, ignore_errors=True)
        else:
            size = old.stat().st_size
            old.unlink(missing_ok=True)
        log.warning("removed %s, left by an interrupted job (%.1f MB)", old, size / 1e6)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final.parent, f".{glob.escape(final.name)}.*.partial")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def staging_dir(final_dir: str | Path, stage: str) -> Iterator[Path]:
    """A scratch folder ``.staging-<stage>-*`` inside ``final_dir`` for tools (DLC) that write their own file
    names. Move results out with :func:`publish`; the folder is removed whatever happens, and one that a killed
    job of the same stage left in ``final_dir`` is removed first.
    """
    final_dir = Path(final_dir).absolute()  # DLC functions change the working directory
    final_dir.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final_dir, f".staging-{glob.escape(stage)}-*")
    tmp = Path(tempfile.mkdtemp(prefix=f".staging-{stage}-", dir=final_dir))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(staged: str | Path, final: str | Path) -> None:
    """Move a finished file from a staging folder to its final name (atomic rename)."""
    staged, final = Path(staged), Path(final)
    if not staged.exists():
        raise FileNotFoundError(f"expected output {staged.name} was not written")
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)


def write_text(final: str | Path, text: str) -> None:
    with atomic_path(final) as tmp:
        tmp.write_text(text)


def copy_file(src: str | Path, final: str | Path) -> None:
    with atomic_path(final) as tmp:
        shutil.copyfile(src, tmp)
