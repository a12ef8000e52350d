"""Backbone features at every detected keypoint, stored in one HDF5 file per video.

Layout of ``<prefix>_bpt_features.h5`` (rows = detected assemblies, in the order of
``_assemblies.pickle`` for each frame):

- ``frame`` (M,) int32, the frame of each row;
- ``frame_offsets`` (n_frames + 1,) int64: rows of frame f are offsets[f]:offsets[f+1];
- ``keypoints`` (M, K, 3) float32: x, y, score (NaN where the keypoint is missing);
- ``features`` (M, K, C) int8, float16 or float32: feature vector at each keypoint (zeros where
  the keypoint is missing); attribute ``layout`` says which channels come from which map,
  e.g. ``features:512,fine:128,colour:3,body:3`` (DLC's backbone output, a stride-8 stage, colour at
  the keypoint, colour inside the body: see :func:`body_points`);
- with int8 (``analysis.features_dtype``, the default): ``features_scale`` (M, K, maps) float16, each
  map's largest magnitude at that keypoint; a value is ``q * scale / 127`` (error at most 0.4 % of that
  magnitude, half the bytes of float16).

The crops file (:mod:`.crops`) has the same rows; its ``crops`` are JPEG scan data (attributes: ``shape``,
``encoding``, and ``jpeg_header``, the tables common to all crops) or raw uint8 images. :class:`FeatureStore`
hands out decoded float32 vectors or uint8 images either way.

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
                 compression: str | None = None, layout: str = "", jpeg_quality: int | None = None):
        """name, item_shape: the per-row dataset (default ``features``, (n_keypoints, n_features)); the crops
        file (:mod:`.crops`) is the same layout with ``crops`` of (height, width, 3) uint8 images, stored as
        JPEG of ``jpeg_quality`` (None: raw). dtype ``int8``: quantised per keypoint and per map of
        ``layout`` (one scale for the whole vector without a layout)."""
        import h5py

        self.path = Path(path)
        self.h5 = h5py.File(self.path, "w")
        k = n_keypoints
        item = tuple(item_shape or (k, n_features))
        packed = dict(compression="gzip", compression_opts=4, shuffle=True)  # lossless; keypoints: -26 %
        self.frame = self.h5.create_dataset("frame", (0,), maxshape=(None,), dtype="int32", chunks=(chunk_rows,),
                                            **packed)
        self.keypoints = self.h5.create_dataset("keypoints", (0, k, 3), maxshape=(None, k, 3), dtype="float32",
                                                chunks=(chunk_rows, k, 3), **packed)
        self.jpeg_quality = jpeg_quality
        self.spans = layout_spans(layout, n_features) if dtype == "int8" else None
        self.scale = None
        if jpeg_quality:  # one variable-length byte string per row; the image shape is an attribute
            self.features = self.h5.create_dataset(name, (0,), maxshape=(None,), dtype=h5py.vlen_dtype(np.uint8),
                                                   chunks=(chunk_rows,))
            self.features.attrs["shape"] = item
            self.features.attrs["encoding"] = f"jpeg:{jpeg_quality}"
        else:
            self.features = self.h5.create_dataset(
                name, (0,) + item, maxshape=(None,) + item, dtype=dtype, compression=compression,
                chunks=(max(1, min(chunk_rows, 2 ** 20 // int(np.prod(item)))),) + item)
        if self.spans is not None:
            g = (k, len(self.spans))
            self.scale = self.h5.create_dataset(f"{name}_scale", (0,) + g, maxshape=(None,) + g, dtype="float16",
                                                chunks=(chunk_rows,) + g, **packed)
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
        feats = np.concatenate([x for _, _, x in self._buf])
        columns = [(self.frame, frames), (self.keypoints, kps)]
        if self.jpeg_quality:
            header, blobs = encode_jpeg(feats, self.jpeg_quality)
            if header and "jpeg_header" not in self.features.attrs:
                self.features.attrs["jpeg_header"] = np.frombuffer(header, np.uint8)
            columns.append((self.features, blobs))
        elif self.scale is not None:
            q, scale = quantize_int8(feats, self.spans)
            columns += [(self.features, q), (self.scale, scale)]
        else:
            columns.append((self.features, feats.astype(self.features.dtype)))
        start = self.frame.shape[0]
        end = start + len(frames)
        for ds, data in columns:
            ds.resize(end, axis=0)
            ds[start:end] = data
        self._buf, self._buffered = [], 0

    def close(self, attrs: dict | None = None) -> None:
        self._flush()
        self.h5.create_dataset("frame_offsets", data=np.asarray(self.offsets, dtype=np.int64), compression="gzip",
                               shuffle=True)
        for k, v in (attrs or {}).items():
            self.h5.attrs[k] = v
        self.h5.close()


def layout_spans(layout: str, n_channels: int) -> list[tuple[int, int]]:
    """(start, stop) channels of each map of ``layout``; one span of all channels without a layout."""
    spans, start = [], 0
    for item in filter(None, (layout or "").split(",")):
        n = int(item.split(":")[1])
        spans.append((start, start + n))
        start += n
    if start != n_channels:
        return [(0, n_channels)]
    return spans


def quantize_int8(x: np.ndarray, spans) -> tuple[np.ndarray, np.ndarray]:
    """(M, K, C) float -> int8 values and a float16 scale per keypoint and span (the span's largest magnitude):
    maps of very different ranges (backbone activations, colour in 0-1) each keep 8 bits of precision."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.stack([np.abs(x[..., a:b]).max(axis=-1) if b > a else np.zeros(x.shape[:-1], np.float32)
                      for a, b in spans], axis=-1).astype(np.float16)
    per_channel = scale_per_channel(scale.astype(np.float32), spans)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(per_channel > 0, x / per_channel * 127.0, 0.0)
    return np.clip(np.rint(q), -127, 127).astype(np.int8), scale


def scale_per_channel(scale: np.ndarray, spans) -> np.ndarray:
    return np.concatenate([np.repeat(scale[..., i:i + 1], b - a, axis=-1) for i, (a, b) in enumerate(spans)],
                          axis=-1)


def dequantize_int8(q: np.ndarray, scale: np.ndarray, spans) -> np.ndarray:
    return q.astype(np.float32) * (scale_per_channel(scale.astype(np.float32), spans) / 127.0)


def jpeg_header_length(blob: bytes) -> int:
    """Bytes of a baseline JPEG up to the start of its scan data (SOI, tables, frame and scan headers)."""
    i = 2  # after SOI
    while i + 4 <= len(blob) and blob[i] == 0xFF:
        marker, length = blob[i + 1], int.from_bytes(blob[i + 2:i + 4], "big")
        i += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return i
    raise ValueError("not a baseline JPEG")


def encode_jpeg(images: np.ndarray, quality: int) -> tuple[bytes, np.ndarray]:
    """uint8 (N, H, W, 3) images -> their common JPEG header and, per image, the rest (object array of bytes).

    Full-resolution colour (4:4:4): the stripes and spots that tell look-alike fish apart are a pixel or two
    wide. The header (quantisation and Huffman tables, ~620 bytes) is the same for every image of one size and
    quality, more than the scan data of a 40x20 crop: it is stored once, in the dataset's attributes."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    out = np.empty(len(images), dtype=object)
    header = b""
    for i, img in enumerate(images):
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img), params)
        if not ok:
            raise RuntimeError("JPEG encoding of a crop failed")
        blob = buf.tobytes()
        n = jpeg_header_length(blob)
        header = header or blob[:n]
        if blob[:n] != header:
            raise RuntimeError("JPEG headers of crops of one size and quality differ")
        out[i] = np.frombuffer(blob[n:], np.uint8)
    return header, out


def decode_jpeg(header: bytes, blobs, shape) -> np.ndarray:
    import cv2

    head = np.frombuffer(header, np.uint8)
    out = np.zeros((len(blobs),) + tuple(shape), np.uint8)
    for i, b in enumerate(blobs):
        if len(b):
            out[i] = cv2.imdecode(np.concatenate([head, np.asarray(b, np.uint8)]), cv2.IMREAD_COLOR)
    return out


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
        self._scale = self.h5[f"{name}_scale"] if f"{name}_scale" in self.h5 else None
        self._jpeg_shape = tuple(self._feats.attrs["shape"]) if "encoding" in self._feats.attrs else None
        self._jpeg_header = bytes(self._feats.attrs.get("jpeg_header", np.zeros(0, np.uint8)))
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
    def item_shape(self) -> tuple:
        """Shape of one stored row: (K, C) features or (H, W, 3) crops."""
        return self._jpeg_shape or tuple(self._feats.shape[1:])

    @property
    def n_features(self) -> int:
        return int(self.item_shape[-1] if self.channels is None else len(self.channels))

    @property
    def n_keypoints(self) -> int:
        return int(self._kps.shape[1])

    def keypoints(self, frame: int) -> np.ndarray:
        if frame < 0 or frame >= self.n_frames:
            return np.zeros((0, self.n_keypoints, 3), np.float32)
        return self._kps[self.offsets[frame]:self.offsets[frame + 1]]

    def _read(self, index) -> np.ndarray:
        """Stored rows (a slice or sorted indices), decoded: float32 from int8, uint8 images from JPEG."""
        block = self._feats[index]
        if self._jpeg_shape is not None:
            return decode_jpeg(self._jpeg_header, block, self._jpeg_shape)
        if self._scale is not None:
            spans = layout_spans(self.layout, block.shape[-1])
            return dequantize_int8(block, self._scale[index], spans)
        return block

    def features(self, frame: int, rows=None) -> np.ndarray:
        a, b = self.offsets[frame], self.offsets[frame + 1]
        block = self._read(slice(a, b))
        if self.channels is not None:
            block = block[..., self.channels]
        return block if rows is None else block[rows]

    def rows(self, frames, rows) -> np.ndarray:
        """The stored vectors of detection ``rows[i]`` of frame ``frames[i]``, read together (each compressed
        chunk once, not once per detection)."""
        index = self.offsets[np.asarray(frames, dtype=np.int64)] + np.asarray(rows, dtype=np.int64)
        if not len(index):
            dtype = np.uint8 if self._jpeg_shape else np.float32 if self._scale is not None else self._feats.dtype
            return np.zeros((0,) + self.item_shape, dtype)
        unique, inverse = np.unique(index, return_inverse=True)
        block = self._read(unique)
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
