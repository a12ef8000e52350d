"""Tracks as DataFrames in DLC's ``_el.h5`` layout, one row per video frame, and short gaps filled."""

from __future__ import annotations

import numpy as np

from .contacts import PIECE_MIN_LENGTH
from .tracklet_io import as_tracklet

def empty_tracks(scorer: str, individuals: list[str], bodyparts: list[str], n_frames: int):
    import pandas as pd

    cols = pd.MultiIndex.from_product([[scorer], individuals, bodyparts, ["x", "y", "likelihood"]],
                                      names=["scorer", "individuals", "bodyparts", "coords"])
    return pd.DataFrame(np.nan, index=range(n_frames), columns=cols)


def tracks_dataframe(tracks: list, raw: dict, n_tracks: int, animal_names: list[str], n_frames: int):
    """Tracks (DLC ``Tracklet`` objects, the longest at least 3 frames) in DLC's ``_el.h5`` layout, one row
    per frame. DLC's stitcher does the writing; it is built on one track only, since its constructor
    compares every pair of tracklets (slow for thousands of pieces)."""
    from deeplabcut.refine_training_dataset.stitch import TrackletStitcher

    st = TrackletStitcher([max(tracks, key=len)], n_tracks, min_length=PIECE_MIN_LENGTH, prestitch_residuals=False)
    st.header = raw.get("header")
    if isinstance(raw.get("single"), dict) and raw["single"]:
        st.single = as_tracklet(raw["single"])
    st.tracks = np.asarray(tracks, dtype=object)
    return st.format_df(animal_names).reindex(range(n_frames))


def fill_gaps(df, max_gap: int):
    """Linearly interpolate every column over runs of at most ``max_gap`` missing frames between two
    tracked frames (a fish hidden for a moment); longer gaps, and the ends, stay empty."""
    if max_gap <= 0:
        return df
    values = df.to_numpy(float)
    filled = df.interpolate(method="linear", limit_area="inside", axis=0).to_numpy(float)
    out = values.copy()
    for col in np.flatnonzero(np.isnan(values).any(axis=0)):
        edges = np.flatnonzero(np.diff(np.r_[0, np.isnan(values[:, col]).astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a <= max_gap:
                out[a:b, col] = filled[a:b, col]
    return df.__class__(out, index=df.index, columns=df.columns)


def summary_json(summary, indent: int = 2, _level: int = 0) -> str:
    """``_tracking.json`` text: indented like ``json.dumps(indent=2)``, except that a list of records (the
    per-piece identity table, tens of thousands per hour) has one record per line: 34 % fewer bytes on a 10-minute video, and still
    one line per piece to read or grep."""
    import json

    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(summary, dict) and summary:
        items = [f"{inner}{json.dumps(str(k))}: {summary_json(v, indent, _level + 1)}" for k, v in summary.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(summary, list) and summary and all(isinstance(v, dict) for v in summary):
        return "[\n" + ",\n".join(inner + json.dumps(v) for v in summary) + f"\n{pad}]"
    if isinstance(summary, list) and summary:
        return "[\n" + ",\n".join(inner + summary_json(v, indent, _level + 1) for v in summary) + f"\n{pad}]"
    return json.dumps(summary)


def stored_tracks(tracks):
    """The tracks as ``_el.h5`` stores them: float32. Every coordinate and likelihood comes from DLC's float32
    predictions (its tables hold float64 copies), so this is exact except for the positions filled in short gaps,
    rounded to ~1e-5 px; the file is 15 % smaller."""
    return tracks.astype(np.float32)


def write_tracks(tracks, path) -> None:
    """``_el.h5`` / ``_el_motion.h5``: :func:`stored_tracks`, zlib-compressed (any PyTables reads it; half the
    size), under DLC's key; pandas and DLC read it as before."""
    stored_tracks(tracks).to_hdf(path, key="tracks", format="table", mode="w", complib="zlib", complevel=5)
