"""Stage ``labelled_video``: the final tracks drawn on the video by DeepLabCut's own renderer.

DLC's ``create_labeled_video`` takes its dot size from the project config (12 px by default) and draws
each of the last ``trailpoints`` positions as a dot of that size: at 320x240, with fish 40-50 px long,
the dots and trails hide every fish. We call DLC's ``create_video`` (what ``create_labeled_video`` calls
in its fast mode) with a dot size taken from the fish's body length in pixels, so the video is legible
at any resolution.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .atomic import publish, staging_dir

log = logging.getLogger(__name__)

DOT_PER_BODY_LENGTH = 1 / 30  # dot radius: a fish 45 px long gets 2 px dots, one 300 px long 10 px


def body_length_px(tracks) -> float:
    """Median extent (bounding-box diagonal of its keypoints) of a tracked fish, in pixels, from a DLC
    tracks DataFrame (scorer/individuals/bodyparts/coords); NaN when nothing is tracked."""
    x = tracks.xs("x", level="coords", axis=1)
    y = tracks.xs("y", level="coords", axis=1)
    spans = []
    for ind in x.columns.get_level_values("individuals").unique():
        xi, yi = x.xs(ind, level="individuals", axis=1).to_numpy(float), y.xs(ind, level="individuals", axis=1).to_numpy(float)
        ok = np.isfinite(xi).sum(axis=1) >= 2
        if ok.any():
            with np.errstate(all="ignore"):
                spans.append(np.hypot(np.nanmax(xi[ok], 1) - np.nanmin(xi[ok], 1), np.nanmax(yi[ok], 1) - np.nanmin(yi[ok], 1)))
    return float(np.median(np.concatenate(spans))) if spans else float("nan")


def dot_size(body_len: float) -> int:
    """Dot radius in pixels for fish ``body_len`` pixels long (DLC's default 12 when unknown)."""
    return 12 if not np.isfinite(body_len) else max(1, int(round(body_len * DOT_PER_BODY_LENGTH)))


def ffmpeg_exe() -> str | None:
    """The ffmpeg of the environment (the conda env's, else the one imageio-ffmpeg ships), or None."""
    import shutil

    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - no ffmpeg at all: the caller keeps DLC's encoding
        return None


def to_h264(src: Path, dst: Path, crf: int) -> bool:
    """Re-encode DLC's MPEG-4 Part 2 (``mp4v``) video as H.264 of constant quality ``crf`` (every frame kept):
    about a quarter of the bytes (27 -> 6.7 MB per minute of 10 fish at 384x288). False, with a warning,
    when there is no ffmpeg or it fails: the mp4v video is then kept."""
    import subprocess

    exe = ffmpeg_exe()
    if exe is None:
        log.warning("no ffmpeg found: the labelled video stays in DLC's mp4v encoding")
        return False
    proc = subprocess.run([exe, "-v", "error", "-y", "-i", str(src), "-c:v", "libx264", "-preset", "veryfast",
                           "-crf", str(int(crf)), "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-an", str(dst)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not dst.exists():
        log.warning("H.264 re-encoding failed (%s): the labelled video stays in mp4v", proc.stderr.strip()[-300:])
        return False
    return True


def labelled_video(video: str | Path, tracks_h5: str | Path, out_mp4: str | Path, trailpoints: int = 10,
                   pcutoff: float = 0.6, colormap: str = "rainbow", crf: int | None = 28) -> int:
    """``_el.h5`` drawn on ``video``, coloured by individual, with trails; returns the dot size used.
    crf: re-encoded as H.264 of this constant quality (None: DLC's mp4v, several times the bytes)."""
    import pandas as pd
    from deeplabcut.utils.make_labeled_video import create_video

    dots = dot_size(body_length_px(pd.read_hdf(tracks_h5)))
    out_mp4 = Path(out_mp4).absolute()
    with staging_dir(out_mp4.parent, "labelled_video") as tmp:
        made = tmp / "labelled.mp4"
        create_video(str(video), str(tracks_h5), color_by="individual", pcutoff=pcutoff, dotsize=dots,
                     cmap=colormap, trailpoints=trailpoints, output_path=str(made))
        if not made.exists():
            raise RuntimeError(f"DeepLabCut's create_video wrote no video for {video}")
        if crf is not None and to_h264(made, tmp / "labelled.h264.mp4", crf):
            made = tmp / "labelled.h264.mp4"
        publish(made, out_mp4)
    return dots
