"""Write outputs so an interrupted job never leaves a file that looks complete.

Everything is written under a temporary name in the destination's folder (same
file system, so the final ``os.replace`` is atomic) and renamed at the end.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` on success."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
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
def staging_dir(final_dir: str | Path) -> Iterator[Path]:
    """A scratch folder inside ``final_dir`` for tools (DLC) that write their own file names.

    Move results out with :func:`publish`; the folder is removed whatever happens.
    """
    final_dir = Path(final_dir).absolute()  # DLC functions change the working directory
    final_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=final_dir))
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
