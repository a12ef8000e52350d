"""Video analysis in one pass: DLC's pose outputs and keypoint features together.

DLC 3.0.2's PyTorch route to re-ID features (``create_tracking_dataset``) runs the
network over the whole video a second time. Here the pose runner built by DLC's own
``get_pose_inference_runner`` is asked for its backbone output as well
(``model.output_features``), and a postprocessor wrapper samples the feature map at
each predicted keypoint before DLC's postprocessing runs unchanged. Pose outputs are
therefore the ones ``deeplabcut.analyze_videos`` writes (a test compares them).
"""
from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path

import numpy as np

from . import dlc_pickles
from .atomic import publish, staging_dir
from .errors import CichlidError
from .crops import MARGIN, close_to_another, usable_crops
from .features import FeatureWriter
from .project import settle_project_path

log = logging.getLogger(__name__)


# Feature maps sampled at each keypoint, concatenated in this order. The backbone's last
# map (stride 16-32) is what DLC's re-ID uses, but pose training makes it nearly blind to
# what tells two fish apart, and at stride 32 neighbouring fish share cells. A stride-8
# stage and the local colour of the input image keep pattern and colour; "body" is that colour
# at points inside the fish (features.body_points), free of the tank around it.
APPEARANCE_MAPS = ("features", "fine", "colour", "body")


def fine_stage(backbone):
    """The backbone's stride-8 stage (``layer2`` of timm/torchvision ResNets), or None."""
    inner = getattr(backbone, "model", backbone)
    return getattr(inner, "layer2", None)


def fixed_projection(n_in: int, n_out: int, seed: int = 0):
    """(n_in, n_out) matrix with orthonormal columns, the same for every video (seeded, CPU generator).

    Distances between feature vectors are kept up to a common scale in expectation (a random orthonormal
    projection), so re-ID trained per video loses little while the file shrinks n_in / n_out times."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1009 * n_in + n_out)
    q, _ = torch.linalg.qr(torch.randn(n_in, n_out, generator=gen))
    return q


class KeypointFeatureTap:
    """Features at every predicted keypoint, from the forward pass that predicts the poses.

    Hooks keep the input image and (``appearance``) a stride-8 backbone stage; DLC's
    ``get_predictions`` is wrapped so that, once the poses are predicted, every map is sampled at
    them on the model's device and only those (n, K, C) vectors travel on, as
    ``predictions["backbone"]["keypoint_features"]`` (DLC's runner splits them per image). The
    postprocessor wrapper then hands them, aligned with DLC's assemblies, to ``sink(frame, keypoints,
    features)`` one frame at a time, so a long video never holds its features in memory. Pose outputs are
    not touched: hooks only read, and DLC's postprocessing runs unchanged.

    maps: the maps to keep (of APPEARANCE_MAPS; None = all); fine_channels: reduce the stride-8 stage to
    this many channels with :func:`fixed_projection` (None = full width); crop_size: (width, height) of the
    pose-aligned image of each fish (:mod:`.crops`), cut from the same input and handed to the sink as a
    fourth argument (None: no crops); normalized: the runner normalises its inputs (DLC's
    ``normalize_images``), undone for the crops.
    """

    def __init__(self, runner, appearance: bool = True, colour_pool: int = 4, maps=None,
                 fine_channels: int | None = None, sink=None, crop_size: tuple[int, int] | None = None,
                 normalized: bool = True):
        import torch
        import torch.nn.functional as F

        from .crops import aligned_crops
        from .features import body_points, sample_keypoint_features

        model = runner.model
        model.output_features = True
        self.inner = runner.postprocessor
        self.layout = ""
        self.projection = ""
        self.sink = sink
        self.frame = 0
        keep = set(APPEARANCE_MAPS if maps is None else maps)
        if not appearance:
            keep = {"features"}
        stash: dict = {}
        projections: dict = {}
        stage = fine_stage(model.backbone) if "fine" in keep else None
        if stage is not None:
            stage.register_forward_hook(lambda m, a, out: stash.__setitem__("fine", out))

        def keep_image(module, args):
            x = args[0]
            stash["input_size"] = (x.shape[-1], x.shape[-2])
            if crop_size:
                stash["image"] = x
            if keep & {"colour", "body"}:  # mean colour over a pool x pool neighbourhood: a keypoint a pixel off
                stash["colour"] = F.avg_pool2d(x, colour_pool, stride=colour_pool, ceil_mode=True)

        model.backbone.register_forward_pre_hook(keep_image)
        get_predictions = model.get_predictions

        def sampled(name, fmap, where):
            out = sample_keypoint_features(fmap, where, stash["input_size"])
            if name == "fine" and fine_channels and out.shape[-1] > fine_channels:
                if name not in projections:
                    projections[name] = fixed_projection(out.shape[-1], fine_channels).to(out.device)
                    self.projection = f"fine: fixed orthonormal projection {out.shape[-1]} -> {fine_channels}"
                out = out @ projections[name]
            return out

        def with_keypoint_features(outputs):
            predictions = get_predictions(outputs)
            image = stash.pop("image", None)
            maps = {"features": predictions.pop("backbone")["features"], **stash}
            poses = predictions["bodypart"]["poses"]
            where = {m: poses for m in maps}
            if "colour" in maps:
                maps["body"], where["body"] = maps["colour"], body_points(poses)
            names = [m for m in APPEARANCE_MAPS if m in maps and m in keep]
            parts = [sampled(m, maps[m], where[m]) for m in names]
            self.layout = ",".join(f"{m}:{x.shape[-1]}" for m, x in zip(names, parts))
            predictions["backbone"] = {"keypoint_features": torch.cat(parts, dim=-1)}
            if image is not None:
                predictions["backbone"]["crops"] = aligned_crops(image, poses, crop_size, normalized)
            stash.clear()
            return predictions

        model.get_predictions = with_keypoint_features
        runner.postprocessor = self

    def __call__(self, predictions, context):
        tapped = [pred.pop("backbone") for pred in predictions]  # DLC's steps never see them
        out, context = self.inner(predictions, context)
        n_rows = len(out["bodyparts"])

        def aligned(key, empty_shape, dtype):  # one row per DLC row (DLC pads to max_individuals)
            x = [t[key] for t in tapped if key in t]
            x = np.concatenate(x) if x else np.zeros((0,) + empty_shape, dtype)
            padded = np.zeros((n_rows,) + x.shape[1:], dtype=x.dtype)
            n = min(len(x), n_rows)
            padded[:n] = x[:n]
            return padded

        feats = aligned("keypoint_features", out["bodyparts"].shape[1:2] + (0,), np.float32)
        crops = aligned("crops", (0, 0, 3), np.uint8) if any("crops" in t for t in tapped) else None
        rows = valid_rows(out["bodyparts"])  # the rows DLC keeps in _assemblies.pickle, in its order
        kps = out["bodyparts"][rows][..., :3].astype(np.float32)
        kps[(kps[..., 2] < 0) | np.all(kps[..., :2] < 0, axis=-1)] = np.nan  # DLC's padding
        if self.sink is not None:
            self.sink(self.frame, kps, feats[rows], None if crops is None else crops[rows], layout=self.layout)
        self.frame += 1
        return out, context


class StreamedFeatures:
    """Sink for :class:`KeypointFeatureTap`: opens the :class:`FeatureWriter` on the first frame (when the
    channel count is known), keeps the detections of every ``every``-th frame (the others are stored as
    frames without detections: a fish looks the same a frame later) and counts them. With ``crops_path``,
    the crops of every ``crop_every``-th frame, and on the others those of fish within ``crop_near`` body lengths
    of another (None: none), go to a second file of the same layout (:mod:`.crops`)."""

    def __init__(self, path: Path, n_keypoints: int, dtype: str, every: int = 1, crops_path: Path | None = None,
                 crop_every: int = 1, crop_quality: int | None = 75, crop_near: float | None = None):
        self.path, self.n_keypoints, self.dtype, self.every = path, n_keypoints, dtype, max(1, int(every))
        self.crops_path, self.crop_every, self.crop_quality = crops_path, max(1, int(crop_every)), crop_quality
        self.crop_near = crop_near
        self.writer = self.crop_writer = None
        self.detections = self.crops = 0

    def __call__(self, frame: int, keypoints: np.ndarray, features: np.ndarray, crops: np.ndarray | None = None,
                 layout: str = ""):
        if self.writer is None:  # int8 features: gzip saves 13 % for a few s per 10 minutes of video
            self.writer = FeatureWriter(self.path, self.n_keypoints, features.shape[-1], dtype=self.dtype,
                                        layout=layout, compression="gzip" if self.dtype == "int8" else None)
        if self.crops_path is not None and crops is not None:
            if self.crop_writer is None:  # raw crops: gzip (it saves little on textured tanks); JPEG: none
                self.crop_writer = FeatureWriter(self.crops_path, self.n_keypoints, 0, dtype="uint8", name="crops",
                                                 item_shape=crops.shape[1:], jpeg_quality=self.crop_quality,
                                                 compression=None if self.crop_quality else "gzip")
            if frame % self.crop_every == 0:
                keep = np.ones(len(keypoints), bool)
            else:  # fish in contact, with a usable crop
                keep = close_to_another(keypoints, self.crop_near) & usable_crops(crops)
            self.crop_writer.add_frame(frame, keypoints[keep], crops[keep])
            self.crops += int(keep.sum())
        if frame % self.every:
            keypoints, features = keypoints[:0], features[:0]
        self.writer.add_frame(frame, keypoints, features)
        self.detections += len(keypoints)

    def close(self, attrs: dict) -> None:
        if self.writer is None:  # no frame decoded: nothing to write (the caller raises)
            return
        self.writer.close(attrs)
        if self.crop_writer is not None:
            self.crop_writer.close({**attrs, "every": self.crop_every, "near": self.crop_near or 0, "layout": "crops",
                                    "margin": MARGIN})


def valid_rows(bodyparts: np.ndarray) -> np.ndarray:
    """Rows DLC keeps in ``_assemblies.pickle``: not entirely padding (< 0)."""
    return ~np.all(bodyparts < 0, axis=(1, 2))


def analyze_video(project_config: str | Path, shuffle: int, trainingset_index: int, snapshot: str | Path,
                  video: str | Path, prefix: str, scorer: str, outputs: dict[str, str | Path], batch_size: int = 8,
                  device: str | None = None, features_dtype: str = "float16", appearance: bool = True,
                  stored_maps=None, fine_channels: int | None = None, feature_every: int = 1,
                  crop_size: tuple[int, int] | None = None, crop_every: int = 1, crop_quality: int | None = 75,
                  crop_near: float | None = None) -> dict:
    """Analyse one video; write ``outputs`` (keys h5, full, meta, assemblies, features) atomically.

    appearance: store, besides DLC's backbone features, a stride-8 stage, the local colour at each
    keypoint and the colour at its body point (:class:`KeypointFeatureTap`); False stores DLC's
    backbone features only. stored_maps: keep only these maps (None: all); fine_channels: the stride-8
    stage reduced to this many channels (None: full width); feature_every: features of every n-th frame only;
    crop_size, crop_every: pose-aligned images of each fish, (width, height), of every n-th frame, to
    ``outputs["crops"]`` (:mod:`.crops`; None: none), as JPEG of ``crop_quality`` (None: raw uint8); crop_near: on
    the other frames, the images of fish within this many body lengths of another (None: none). Features
    and crops are written as frames are analysed.
    """
    settle_project_path(project_config)  # a moved results folder must not look like a changed project
    import deeplabcut.pose_estimation_pytorch.apis.utils as dlc_utils
    from deeplabcut.pose_estimation_pytorch.apis import videos as dlc_videos
    from deeplabcut.pose_estimation_pytorch.data import DLCLoader
    from deeplabcut.utils import auxiliaryfunctions

    check_video_readable(video)
    loader = DLCLoader(str(project_config), trainset_index=trainingset_index, shuffle=shuffle)
    if device:
        loader.model_cfg["device"] = device
    pose_cfg = auxiliaryfunctions.read_plainconfig(loader.model_folder.parent / "test" / "pose_cfg.yaml")
    bodyparts = loader.model_cfg["metadata"]["bodyparts"]
    unique = loader.model_cfg["metadata"]["unique_bodyparts"]
    individuals = loader.model_cfg["metadata"]["individuals"]

    runner = dlc_utils.get_pose_inference_runner(
        model_config=loader.model_cfg, snapshot_path=str(snapshot), max_individuals=len(individuals),
        batch_size=batch_size)

    out_dir = Path(outputs["h5"]).parent
    with staging_dir(out_dir, "analyze") as tmp:
        crops = crop_size if outputs.get("crops") else None
        sink = StreamedFeatures(tmp / "features.h5", len(bodyparts), features_dtype, every=feature_every,
                                crops_path=tmp / "crops.h5" if crops else None, crop_every=crop_every,
                                crop_quality=crop_quality, crop_near=crop_near)
        normalized = bool(loader.model_cfg.get("data", {}).get("inference", {}).get("normalize_images", True))
        tap = KeypointFeatureTap(runner, appearance=appearance, maps=stored_maps, fine_channels=fine_channels,
                                 sink=sink, crop_size=tuple(crops) if crops else None, normalized=normalized)
        iterator = dlc_videos.VideoIterator(str(video))
        n_frames_meta = iterator.get_n_frames()
        start = time.time()
        predictions = dlc_videos.video_inference(iterator, runner)
        stop = time.time()
        if len(predictions) == 0:
            raise VideoReadError(f"{video}: no frame could be decoded (the file is empty or corrupt); "
                                 f"re-encode it (e.g. ffmpeg -i in.mp4 out.mp4) or remove it from the sample sheet")
        if len(predictions) < n_frames_meta:
            log.warning("%s: header says %d frames but only %d could be decoded (truncated file?)",
                        video, n_frames_meta, len(predictions))
        log.info("analysed %d frames in %.1f s (%.1f frames/s)", len(predictions), stop - start,
                 len(predictions) / max(stop - start, 1e-9))
        if tap.frame != len(predictions):
            raise RuntimeError(f"{video}: features of {tap.frame} frames for {len(predictions)} poses")
        sink.close({"scorer": scorer, "video": str(video), "n_frames": len(predictions), "layout": tap.layout,
                    "projection": tap.projection, "every": sink.every})

        metadata = dlc_videos._generate_metadata(
            cfg=loader.project_cfg, pytorch_config=loader.model_cfg, dlc_scorer=scorer,
            train_fraction=loader.train_fraction, batch_size=batch_size, cropping=None,
            runtime=(start, stop), video=iterator)
        metadata["data"]["nframes"] = len(predictions)
        with open(tmp / "meta.pickle", "wb") as fh:
            pickle.dump(metadata, fh, pickle.HIGHEST_PROTOCOL)

        full = dlc_videos._generate_output_data(pose_cfg, predictions)
        full_path = tmp / f"{prefix}_full.pickle"
        with open(full_path, "wb") as fh:
            pickle.dump(full, fh, pickle.HIGHEST_PROTOCOL)
        dlc_videos.create_df_from_prediction(
            predictions=predictions, dlc_scorer=scorer, multi_animal=True, model_cfg=loader.model_cfg,
            output_path=tmp, output_prefix=prefix)
        compress_h5(tmp / f"{prefix}.h5")
        dlc_videos._generate_assemblies_file(
            full_data_path=full_path, output_path=tmp / "assemblies.pickle",
            num_bodyparts=len(bodyparts), num_unique_bodyparts=len(unique))
        dlc_pickles.shrink(tmp / "assemblies.pickle")  # float32 rows: exact, half the bytes

        publish(tmp / "features.h5", outputs["features"])
        if crops:
            publish(tmp / "crops.h5", outputs["crops"])
        publish(tmp / "meta.pickle", outputs["meta"])
        publish(tmp / "assemblies.pickle", outputs["assemblies"])
        publish(tmp / f"{prefix}.h5", outputs["h5"])
        publish(full_path, outputs["full"])  # last: DLC treats _full.pickle as "analysed"
    return {"frames": len(predictions), "detections": sink.detections, "crops": sink.crops, "seconds": stop - start,
            "layout": tap.layout}


def compress_h5(path: Path) -> None:
    """DLC's pose table rewritten zlib-compressed (half the size; pandas and DLC read it as before)."""
    import pandas as pd

    with pd.HDFStore(path, "r") as store:
        key = store.keys()[0]
    df = pd.read_hdf(path, key)
    df.to_hdf(path.with_suffix(".z.h5"), key=key, format="table", mode="w", complib="zlib", complevel=5)
    path.with_suffix(".z.h5").replace(path)


class VideoReadError(CichlidError, RuntimeError):
    """A video no frame of which can be decoded."""


def check_video_readable(video: str | Path) -> None:
    """Fail fast, naming the file and the fix, before any model is loaded."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    try:
        ok = cap.isOpened() and cap.read()[0]
    finally:
        cap.release()
    if not ok:
        raise VideoReadError(f"{video}: no frame can be decoded (the file is truncated, empty or not a video); "
                             f"re-encode it (e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4) or remove it from the "
                             f"sample sheet")
