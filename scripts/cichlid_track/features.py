"""Backbone features at every detected keypoint, stored in one HDF5 file per video.

Layout of ``<prefix>_bpt_features.h5`` (rows = detected assemblies, in the order of
``_assemblies.pickle`` for each frame):

- ``frame`` (M,) int32, the frame of each row;
- ``frame_offsets`` (n_frames + 1,) int64: rows of frame f are offsets[f]:offsets[f+1];
- ``keypoints`` (M, K, 3) float32: x, y, score (NaN where the keypoint is missing);
- ``features`` (M, K, C) float16 or float32: feature vector at each keypoint (zeros where
  the keypoint is missing); attribute ``layout`` says which channels come from which map,
  e.g. ``features:512,fine:128,colour:3,body:3`` (DLC's backbone output, a stride-8 stage, colour at
  the keypoint, colour inside the body: see :func:`body_points`).

One deterministic file, written under a temporary name and renamed when complete.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def sample_keypoint_features(feature_maps, poses, input_size: tuple[int, int]):
    """Feature vectors at keypoints, nearest cell of the map (as DLC's ``PrepareBackboneFeatures``),
    on whatever device the tensors are (only these small vectors leave the GPU, not the maps).

    feature_maps: (B, C, h, w) tensor; poses: (B, n, K, >=2) tensor in model-input pixels; missing keypoints
    are NaN or DLC's padding (score -1, or all coordinates negative); a point slightly outside the image is
    clipped to the map; input_size: (width, height) of the model input. Returns (B, n, K, C) float32; zeros
    for invalid keypoints.
    """
    import torch

    b, c, h, w = feature_maps.shape
    n, k = poses.shape[1:3]
    valid = valid_keypoints(poses)
    xy = torch.nan_to_num(poses[..., :2].float())
    ix = torch.round(xy[..., 0] / (input_size[0] / w)).long().clamp(0, w - 1)
    iy = torch.round(xy[..., 1] / (input_size[1] / h)).long().clamp(0, h - 1)
    cells = (iy * w + ix).reshape(b, 1, n * k).expand(b, c, n * k)
    out = torch.gather(feature_maps.reshape(b, c, h * w).float(), 2, cells)  # (B, C, n*K)
    out = out.reshape(b, c, n, k).permute(0, 2, 3, 1)
    return out * valid.unsqueeze(-1)


def valid_keypoints(poses):
    """(B, n, K) mask of real keypoints: finite, not DLC's padding (score -1 or all coordinates negative)."""
    import torch

    xy = poses[..., :2].float()
    valid = torch.isfinite(xy).all(-1) & ~(xy < 0).all(-1)
    if poses.shape[-1] > 2:
        valid &= ~(poses[..., 2] < 0)
    return valid


def body_points(poses, pull: float = 0.5):
    """Each keypoint moved ``pull`` of the way toward the centre of its animal's keypoints.

    Keypoints lie on the outline (snout, fin and tail tips), where a few pixels off is the tank; the
    pulled points lie inside the body, whatever the skeleton. Colour there says who the fish is, not
    where it swims. Invalid keypoints stay invalid (NaN).
    """
    import torch

    valid = valid_keypoints(poses)
    xy = torch.where(valid.unsqueeze(-1), poses[..., :2].float(), torch.zeros((), device=poses.device))
    centre = xy.sum(-2, keepdim=True) / valid.sum(-1, keepdim=True).clamp(min=1).unsqueeze(-1)
    pulled = xy + pull * (centre - xy)
    return torch.where(valid.unsqueeze(-1), pulled, torch.full((), float("nan"), device=poses.device))


class FeatureWriter:
    """Streams rows into ``_bpt_features.h5`` (chunked, resizable datasets)."""

    def __init__(self, path: str | Path, n_keypoints: int, n_features: int, dtype: str = "float16",
                 chunk_rows: int = 256, name: str = "features", item_shape: tuple | None = None,
                 compression: str | None = None):
        """name, item_shape: the per-row dataset (default ``features``, (n_keypoints, n_features)); the crops
        file (:mod:`.crops`) is the same layout with ``crops`` of (height, width, 3) uint8, gzip-compressed."""
        import h5py

        self.path = Path(path)
        self.h5 = h5py.File(self.path, "w")
        k = n_keypoints
        item = tuple(item_shape or (k, n_features))
        self.frame = self.h5.create_dataset("frame", (0,), maxshape=(None,), dtype="int32", chunks=(chunk_rows,))
        self.keypoints = self.h5.create_dataset("keypoints", (0, k, 3), maxshape=(None, k, 3), dtype="float32",
                                                chunks=(chunk_rows, k, 3))
        self.features = self.h5.create_dataset(
            name, (0,) + item, maxshape=(None,) + item, dtype=dtype, compression=compression,
            chunks=(max(1, min(chunk_rows, 2 ** 20 // int(np.prod(item)))),) + item)
        self.offsets = [0]
        self._buf: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._buffered = 0
        self.chunk_rows = chunk_rows

    def add_frame(self, frame: int, keypoints: np.ndarray, features: np.ndarray) -> None:
        if frame != len(self.offsets) - 1:
            raise ValueError(f"frames must be added in order: expected {len(self.offsets) - 1}, got {frame}")
        self.offsets.append(self.offsets[-1] + len(keypoints))
        if len(keypoints):
            self._buf.append((frame, keypoints, features))
            self._buffered += len(keypoints)
        if self._buffered >= self.chunk_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        frames = np.concatenate([np.full(len(k), f, np.int32) for f, k, _ in self._buf])
        kps = np.concatenate([k for _, k, _ in self._buf]).astype(np.float32)
        feats = np.concatenate([x for _, _, x in self._buf]).astype(self.features.dtype)
        start = self.frame.shape[0]
        end = start + len(frames)
        for ds, data in ((self.frame, frames), (self.keypoints, kps), (self.features, feats)):
            ds.resize(end, axis=0)
            ds[start:end] = data
        self._buf, self._buffered = [], 0

    def close(self, attrs: dict | None = None) -> None:
        self._flush()
        self.h5.create_dataset("frame_offsets", data=np.asarray(self.offsets, dtype=np.int64))
        for k, v in (attrs or {}).items():
            self.h5.attrs[k] = v
        self.h5.close()


def layout_channels(layout: str, parts) -> np.ndarray | None:
    """Channel indices of ``parts`` in a feature ``layout``; None if the layout lacks one of them."""
    if not parts:
        return None
    spans, start = {}, 0
    for item in filter(None, (layout or "").split(",")):
        name, n = item.split(":")
        spans[name] = np.arange(start, start + int(n))
        start += int(n)
    if not parts or any(p not in spans for p in parts):
        return None
    return np.concatenate([spans[p] for p in parts])


class FeatureStore:
    """Reads ``_bpt_features.h5``: per-frame keypoints and features of every detection.

    parts: read only these maps of the layout (e.g. ``["fine", "colour"]``); a file without them
    (analysed with ``appearance_features: false``, or by an older version) gives all channels.
    """

    def __init__(self, path: str | Path, parts=None, name: str = "features"):
        import h5py

        self.path = Path(path)
        self.h5 = h5py.File(self.path, "r")
        self.offsets = self.h5["frame_offsets"][:]
        self._kps = self.h5["keypoints"][:]
        self._feats = self.h5[name]
        self.layout = str(self.h5.attrs.get("layout", ""))
        self._every = int(self.h5.attrs.get("every", 1))
        self.channels = layout_channels(self.layout, parts)
        if parts and self.channels is None:
            import logging

            logging.getLogger(__name__).warning(
                "%s has no %s features (layout %r): re-ID uses all %d channels", self.path, "+".join(parts),
                self.layout or "unknown", self._feats.shape[-1])

    def select(self, parts) -> "FeatureStore | None":
        """The same open file read as ``parts`` (a view sharing the file), or None if its layout lacks them."""
        import copy

        channels = layout_channels(self.layout, parts)
        if channels is None:
            return None
        view = copy.copy(self)
        view.channels = channels
        return view

    @property
    def n_frames(self) -> int:
        return len(self.offsets) - 1

    @property
    def every(self) -> int:
        """Features were stored for every n-th frame (``analysis.feature_every``; 1 for older files)."""
        return int(self._every)

    @property
    def n_features(self) -> int:
        return int(self._feats.shape[-1] if self.channels is None else len(self.channels))

    @property
    def n_keypoints(self) -> int:
        return int(self._kps.shape[1])

    def keypoints(self, frame: int) -> np.ndarray:
        if frame < 0 or frame >= self.n_frames:
            return np.zeros((0, self.n_keypoints, 3), np.float32)
        return self._kps[self.offsets[frame]:self.offsets[frame + 1]]

    def features(self, frame: int, rows=None) -> np.ndarray:
        a, b = self.offsets[frame], self.offsets[frame + 1]
        block = self._feats[a:b]
        if self.channels is not None:
            block = block[..., self.channels]
        return block if rows is None else block[rows]

    def rows(self, frames, rows) -> np.ndarray:
        """The stored vectors of detection ``rows[i]`` of frame ``frames[i]``, read together (each compressed
        chunk once, not once per detection)."""
        index = self.offsets[np.asarray(frames, dtype=np.int64)] + np.asarray(rows, dtype=np.int64)
        if not len(index):
            return np.zeros((0,) + self._feats.shape[1:], self._feats.dtype)
        unique, inverse = np.unique(index, return_inverse=True)
        block = self._feats[unique]
        if self.channels is not None:
            block = block[..., self.channels]
        return block[inverse]

    def close(self) -> None:
        self.h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def nearest_assembly(query: np.ndarray, detections: np.ndarray, max_distance: float = np.inf) -> tuple[int, float]:
    """Index of the detection nearest to ``query`` and its mean keypoint distance.

    query: (K, >=2); detections: (n, K, >=2); missing keypoints are NaN (or negative, as DLC pads).
    Distance = mean Euclidean distance over keypoints present in both. Returns (-1, inf) when no
    detection shares a keypoint with the query or the nearest is farther than ``max_distance``.
    """
    if len(detections) == 0:
        return -1, float("inf")
    q = np.asarray(query, dtype=np.float64)[..., :2].copy()
    d = np.asarray(detections, dtype=np.float64)[..., :2].copy()
    q[np.any(q < 0, axis=-1)] = np.nan
    d[np.any(d < 0, axis=-1)] = np.nan
    dist = np.linalg.norm(d - q[None], axis=-1)  # (n, K), NaN where either is missing
    present = np.isfinite(dist)
    counts = present.sum(axis=1)
    sums = np.where(present, dist, 0.0).sum(axis=1)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
    best = int(np.argmin(mean))
    if not np.isfinite(mean[best]) or mean[best] > max_distance:
        return -1, float("inf")
    return best, float(mean[best])
