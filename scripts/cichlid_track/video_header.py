"""Frame counts read from a video's container header at parse time (no cv2, no ffprobe, no decoding).

MP4/MOV: the sample count of the first video track (``moov/trak/mdia/minf/stbl/stsz``); AVI: the main
header's ``dwTotalFrames``. Anything else, or a header this cannot read: None (the caller falls back to
the file size). Used to size each job's runtime to its video.
"""
from __future__ import annotations

import struct
from pathlib import Path

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(fh, start: int, end: int):
    """(type, payload start, payload end) of the ISO-BMFF boxes between two offsets."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        head = fh.read(8)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head)
        skip = 8
        if size == 1:  # 64-bit size follows
            size = struct.unpack(">Q", fh.read(8))[0]
            skip = 16
        elif size == 0:  # to the end of the file
            size = end - pos
        if size < skip:
            return
        yield kind, pos + skip, pos + size
        pos += size


def _mp4_frames(fh, end: int) -> int | None:
    def walk(start, stop, in_video):
        for kind, a, b in _boxes(fh, start, stop):
            if kind == b"hdlr":
                fh.seek(a + 8)
                in_video[0] = fh.read(4) == b"vide"
            elif kind == b"stsz" and in_video[0]:
                fh.seek(a + 8)
                return struct.unpack(">I", fh.read(4))[0]
            elif kind in CONTAINERS:
                flag = [False] if kind == b"trak" else in_video
                found = walk(a, b, flag)
                if found:
                    return found
        return None

    return walk(0, end, [False])


def _avi_frames(fh) -> int | None:
    fh.seek(0)
    head = fh.read(4096)
    i = head.find(b"avih")
    if head[:4] != b"RIFF" or i < 0:
        return None
    return struct.unpack("<I", head[i + 8 + 16:i + 8 + 20])[0]  # avih: 4 DWORDs before dwTotalFrames


def frame_count(path: str | Path) -> int | None:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if path.suffix.lower() == ".avi":
                n = _avi_frames(fh)
            else:
                n = _mp4_frames(fh, path.stat().st_size)
    except (OSError, struct.error):
        return None
    return n if n else None
