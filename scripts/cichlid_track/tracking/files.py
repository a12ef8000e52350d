"""One video's stitching from its files (what the ``stitch`` rule and ``bench/restitch.py`` run): the
tracklets, the keypoint features, the metadata and the re-ID model in; a :class:`StitchResult` out."""
from __future__ import annotations

import logging
import pickle

from .stitch import StitchResult, stitch_video

log = logging.getLogger(__name__)


def stitch_options(config: dict) -> dict:
    """The stitching keywords of :func:`stitch_files`, from a validated config."""
    r, t = config["reid"], config["tracking"]
    return dict(feature_parts=r["feature_parts"], body_colour=r["body_colour"], min_length=t["min_length"],
                method=r["method"], appearance_weight=r["appearance_weight"], contact=r["contact"],
                max_gap=t["max_gap"], stray=t["stray_keypoints"])


def stitch_files(el_pickle, features_h5, meta_pickle, reid_model, n_tracks: int, individuals: list[str],
                 scorer: str, *, feature_parts, body_colour: bool, min_length: int, method: str,
                 appearance_weight: float, contact: float, max_gap: int, stray: float | None) -> StitchResult:
    """Read what stitching needs and run :func:`stitch_video`. The re-ID embedding runs on the CPU: a few
    thousand sampled detections per video, not worth holding a GPU for."""
    from ..features import FeatureStore
    from ..reid import load_embedder

    with open(meta_pickle, "rb") as fh:
        meta = pickle.load(fh)["data"]
    embed = load_embedder(reid_model, "cpu")
    with FeatureStore(features_h5, parts=feature_parts) as store:
        if embed is not None and embed.feature_dim != store.n_features:
            raise ValueError(f"{reid_model} reads {embed.feature_dim} feature channels but {features_h5} gives "
                             f"{store.n_features} (reid.feature_parts {feature_parts}); delete the re-ID model so "
                             f"that it is trained again")
        body_store = store.select(["body"]) if body_colour else None
        if body_colour and body_store is None:
            log.warning("%s has no body colour (analysed with appearance_features: false or by an older version): "
                        "linking uses the re-ID transformer only; to add it, re-run the analysis "
                        "(snakemake --forcerun analyze)", features_h5)
        result = stitch_video(el_pickle, n_tracks, list(individuals), int(meta["nframes"]), scorer,
                              list(meta["bodyparts"]), min_length=min_length, store=store, embed=embed,
                              method=method, appearance_weight=appearance_weight, contact=contact,
                              max_gap=max_gap, body_store=body_store, stray=stray)
    if embed is None:
        import torch

        result.summary["warning"] = torch.load(reid_model, weights_only=False).get("reason", "re-ID skipped")
    return result
