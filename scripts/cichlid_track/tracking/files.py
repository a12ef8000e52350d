"""One video's stitching from its files (what the ``stitch`` rule and ``bench/restitch.py`` run): the
tracklets, the keypoint features, the metadata and the re-ID model in; a :class:`StitchResult` out."""
from __future__ import annotations

import logging
import pickle

from .. import dlc_pickles
from .stitch import StitchResult, stitch_video

log = logging.getLogger(__name__)

# The identity network's labels come from stretches where all fish are apart, in pieces long enough for 2+ crops.
# In a fast or crowded video the pieces cut at ``reid.contact`` can all be too short (each fish-to-fish approach
# ends one): the network then learns from pieces cut only where fish come closer, these fractions of it in turn.
# Stitching still cuts at ``reid.contact``; a piece the closer cut left impure is one more label the training's
# consistency check (no stretch that contradicts what it learned) keeps out.
TRAINING_CONTACTS = (1.0, 0.7, 0.5)


def stitch_options(config: dict) -> dict:
    """The stitching keywords of :func:`stitch_files`, from a validated config."""
    r, t = config["reid"], config["tracking"]
    return dict(feature_parts=r["feature_parts"], body_colour=r["body_colour"], min_length=t["min_length"],
                method=r["method"], appearance_weight=r["appearance_weight"], contact=r["contact"],
                jump=r["jump"], max_gap=t["max_gap"], stray=t["stray_keypoints"], assignment=config["identity"]["assignment"],
                sort_keypoints=t["sort_contact_keypoints"])


def stitch_files(el_pickle, features_h5, meta_pickle, reid_model, n_tracks: int, individuals: list[str],
                 scorer: str, *, feature_parts, body_colour: bool, min_length: int, method: str,
                 appearance_weight: float, contact: float, max_gap: int, stray: float | None,
                 jump: float | None = None, identity_model=None, crops_h5=None, assignment: bool = True,
                 sort_keypoints: bool = True) -> StitchResult:
    """Read what stitching needs and run :func:`stitch_video`. The re-ID embedding runs on the CPU: a few
    thousand sampled detections per video, not worth holding a GPU for. identity_model, crops_h5: the
    ``identity`` rule's network and the analysis' crops (None: stitching without a network)."""
    from contextlib import ExitStack

    from ..features import FeatureStore
    from ..reid import load_embedder
    from .identity_net import load_identity

    with open(meta_pickle, "rb") as fh:
        meta = pickle.load(fh)["data"]
    embed = load_embedder(reid_model, "cpu")
    identity = load_identity(identity_model) if identity_model else None
    with ExitStack() as stack:
        store = stack.enter_context(FeatureStore(features_h5, parts=feature_parts))
        crop_store = stack.enter_context(FeatureStore(crops_h5, name="crops")) if identity and crops_h5 else None
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
                              jump=jump, max_gap=max_gap, body_store=body_store, stray=stray, identity=identity,
                              crop_store=crop_store, assignment=assignment, sort_keypoints=sort_keypoints)
    if embed is None:
        import torch

        result.summary["warning"] = torch.load(reid_model, weights_only=False).get("reason", "re-ID skipped")
    return result


def train_identity_file(el_pickle, crops_h5, out, n_fish: int, *, stray: float | None, contact: float,
                        jump: float | None = None, settings=None, contacts: tuple = TRAINING_CONTACTS) -> dict:
    """The ``identity`` rule: the video's pieces (as stitching cuts them, or closer where that leaves no stretch of
    all fish apart: ``contacts``, fractions of ``contact`` tried in turn) and crops in, the identity network's
    weights out (:mod:`.identity_net`); returns its summary."""
    from ..features import FeatureStore
    from .cleanup import cleaned_tracklets
    from .identity_net import (MIN_CROPS, TrainingSettings, global_fragments, labelling_pieces, piece_crops,
                               save_identity, train_identity)
    from .stitch import video_pieces

    settings = settings or TrainingSettings()
    raw = dlc_pickles.load(el_pickle)  # float64 rows, as DLC wrote them
    raw, tracks, body_len, _ = cleaned_tracklets(raw, stray)
    pieces, crops, used = [], {}, contact
    with FeatureStore(crops_h5, name="crops") as store:
        for used in [contact * f for f in contacts] if tracks else []:
            pieces = video_pieces(raw, tracks, body_len, used, jump)
            crops = piece_crops(pieces, store, settings.max_crops_per_piece)
            if global_fragments(labelling_pieces(pieces, crops), n_fish):
                break
    model = train_identity(pieces, crops, n_fish, settings) if crops else None
    if model is None:
        reason = "no tracklets (no fish detected?)" if not tracks else (
            f"no stretch where all {n_fish} fish are seen apart, whole, with {MIN_CROPS}+ crops each, even with "
            f"pieces cut only where fish come within {used:.2g} body lengths ({len(pieces)} pieces, {len(crops)} "
            f"with crops)")
        save_identity(None, out, reason)
        return {"reason": reason}
    model.summary["training_contact"] = round(used, 3)
    if used < contact:
        log.info("identity network: trained on pieces cut at %.2g body lengths (none of all fish apart at %.2g)",
                 used, contact)
    save_identity(model, out)
    return model.summary
