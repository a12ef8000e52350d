"""DLC's keypoint pickles (``_assemblies.pickle``, ``_el.pickle``) stored at half the size, read back exactly.

DLC 3.0.2 stores every keypoint row (x, y, likelihood, identity) as float64, but the values come from the
network as float32 or are small integers (identity -1), so casting them to float32 loses nothing: it halves
the two largest pickles, about a quarter of an hour-long video's outputs. An array whose cast would not be
exact stays float64. DLC reads the float32 arrays as they are (it still loads and stitches them); our own
stages, and DLC's tracker when we run it, get them back as float64, so every computation is the same as on
DLC's own files.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def seen_keypoints(xy) -> np.ndarray:
    """Which keypoints were detected: (..., K, 2+) -> (..., K) bool. DLC marks a missing one NaN, or -1 where it
    pads its arrays."""
    xy = np.asarray(xy, dtype=float)[..., :2]
    return (np.isfinite(xy) & (xy >= 0)).all(axis=-1)


def _mapped(obj, convert):
    if isinstance(obj, np.ndarray):
        return convert(obj)
    if isinstance(obj, dict):
        return {k: _mapped(v, convert) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mapped(v, convert) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_mapped(v, convert) for v in obj)
    return obj


def _narrow(a: np.ndarray) -> np.ndarray:
    if a.dtype != np.float64:
        return a
    b = a.astype(np.float32)
    return b if np.array_equal(b.astype(np.float64), a, equal_nan=True) else a


def _widen(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype == np.float32 else a


def narrowed(obj):
    """``obj`` with every float64 array that float32 holds exactly made float32."""
    return _mapped(obj, _narrow)


def widened(obj):
    """``obj`` with every float32 array made float64 (undoes :func:`narrowed` exactly)."""
    return _mapped(obj, _widen)


def load(path: str | Path):
    """A DLC pickle as DLC wrote it (float64 keypoint rows), whether it was stored narrowed or not."""
    with open(path, "rb") as fh:
        return widened(pickle.load(fh))


def shrink(path: str | Path):
    """Rewrite a DLC pickle in place with :func:`narrowed` arrays; returns its content as read (so a caller need
    not read it again). Only for a file in a staging folder, before it is published (the rewrite is not atomic)."""
    with open(path, "rb") as fh:
        obj = pickle.load(fh)
    with open(path, "wb") as fh:
        pickle.dump(narrowed(obj), fh, pickle.HIGHEST_PROTOCOL)
    return obj


def write(obj, path: str | Path) -> None:
    """``obj`` pickled as it is (e.g. the float64 content :func:`load` gave, for a DLC function that reads it)."""
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, pickle.HIGHEST_PROTOCOL)


def write_widened(src: str | Path, dst: str | Path) -> None:
    """A float64 copy of ``src`` at ``dst``, for a DLC function that reads it by name."""
    write(load(src), dst)
