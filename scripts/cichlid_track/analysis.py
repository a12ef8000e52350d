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

from .atomic import publish, staging_dir
from .errors import CichlidError
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


class KeypointFeatureTap:
    """Features at every predicted keypoint, from the forward pass that predicts the poses.

    Hooks keep the input image and (``appearance``) a stride-8 backbone stage; DLC's
    ``get_predictions`` is wrapped so that, once the poses are predicted, every map is sampled at
    them on the model's device and only those (n, K, C) vectors travel on, as
    ``predictions["backbone"]["keypoint_features"]`` (DLC's runner splits them per image). The
    postprocessor wrapper then hands them over aligned with DLC's assemblies. Pose outputs are not
    touched: hooks only read, and DLC's postprocessing runs unchanged.
    """

    def __init__(self, runner, appearance: bool = True, colour_pool: int = 4):
        import torch
        import torch.nn.functional as F

        from .features import body_points, sample_keypoint_features

        model = runner.model
        model.output_features = True
        self.inner = runner.postprocessor
        self.layout = ""
        stash: dict = {}
        stage = fine_stage(model.backbone) if appearance else None
        if stage is not None:
            stage.register_forward_hook(lambda m, a, out: stash.__setitem__("fine", out))

        def keep_image(module, args):
            x = args[0]
            stash["input_size"] = (x.shape[-1], x.shape[-2])
            if appearance:  # mean colour over a pool x pool neighbourhood: robust to a keypoint a pixel off
                stash["colour"] = F.avg_pool2d(x, colour_pool, stride=colour_pool, ceil_mode=True)

        model.backbone.register_forward_pre_hook(keep_image)
        get_predictions = model.get_predictions

        def with_keypoint_features(outputs):
            predictions = get_predictions(outputs)
            maps = {"features": predictions.pop("backbone")["features"], **stash}
            poses = predictions["bodypart"]["poses"]
            where = {m: poses for m in maps}
            if "colour" in maps:
                maps["body"], where["body"] = maps["colour"], body_points(poses)
            names = [m for m in APPEARANCE_MAPS if m in maps]
            self.layout = ",".join(f"{m}:{maps[m].shape[1]}" for m in names)
            predictions["backbone"] = {"keypoint_features": torch.cat(
                [sample_keypoint_features(maps[m], where[m], stash["input_size"]) for m in names], dim=-1)}
            stash.clear()
            return predictions

        model.get_predictions = with_keypoint_features
        runner.postprocessor = self

    def __call__(self, predictions, context):
        feats = [pred.pop("backbone")["keypoint_features"] for pred in predictions]  # DLC's steps never see it
        out, context = self.inner(predictions, context)
        f = np.concatenate(feats) if feats else np.zeros((0,) + out["bodyparts"].shape[1:2] + (0,))
        padded = np.zeros((len(out["bodyparts"]),) + f.shape[1:], dtype=np.float32)
        n = min(len(f), len(padded))
        padded[:n] = f[:n]
        out["keypoint_features"] = padded
        return out, context


def valid_rows(bodyparts: np.ndarray) -> np.ndarray:
    """Rows DLC keeps in ``_assemblies.pickle``: not entirely padding (< 0)."""
    return ~np.all(bodyparts < 0, axis=(1, 2))


def analyze_video(project_config: str | Path, shuffle: int, trainingset_index: int, snapshot: str | Path,
                  video: str | Path, prefix: str, scorer: str, outputs: dict[str, str | Path], batch_size: int = 8,
                  device: str | None = None, features_dtype: str = "float16", appearance: bool = True) -> dict:
    """Analyse one video; write ``outputs`` (keys h5, full, meta, assemblies, features) atomically.

    appearance: store, besides DLC's backbone features, a stride-8 stage, the local colour at each
    keypoint and the colour at its body point (:class:`KeypointFeatureTap`); False stores DLC's
    backbone features only.
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
    tap = KeypointFeatureTap(runner, appearance=appearance)

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

    out_dir = Path(outputs["h5"]).parent
    with staging_dir(out_dir) as tmp:
        # features, in the order of the assemblies file (rows that are not all padding)
        n_feat = int(predictions[0]["keypoint_features"].shape[-1])
        writer = FeatureWriter(tmp / "features.h5", len(bodyparts), n_feat, dtype=features_dtype)
        n_detections = 0
        for i, pred in enumerate(predictions):
            feats = pred.pop("keypoint_features")
            rows = valid_rows(pred["bodyparts"])
            kps = pred["bodyparts"][rows][..., :3].astype(np.float32)
            kps[(kps[..., 2] < 0) | np.all(kps[..., :2] < 0, axis=-1)] = np.nan  # DLC's padding
            writer.add_frame(i, kps, feats[rows])
            n_detections += int(rows.sum())
        writer.close({"scorer": scorer, "video": str(video), "n_frames": len(predictions), "layout": tap.layout})

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
        dlc_videos._generate_assemblies_file(
            full_data_path=full_path, output_path=tmp / "assemblies.pickle",
            num_bodyparts=len(bodyparts), num_unique_bodyparts=len(unique))

        publish(tmp / "features.h5", outputs["features"])
        publish(tmp / "meta.pickle", outputs["meta"])
        publish(tmp / "assemblies.pickle", outputs["assemblies"])
        publish(tmp / f"{prefix}.h5", outputs["h5"])
        publish(full_path, outputs["full"])  # last: DLC treats _full.pickle as "analysed"
    return {"frames": len(predictions), "detections": n_detections, "seconds": stop - start}


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
