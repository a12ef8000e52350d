"""Loading backbone weights from a local file (ImageNet ResNet or a DLC/SuperAnimal snapshot).

Nothing is downloaded: users copy their weights file to the cluster once and name it
in ``training.weights``.
"""
from __future__ import annotations

import logging
from pathlib import Path

from .errors import CichlidError

log = logging.getLogger(__name__)


class WeightsError(CichlidError, ValueError):
    pass


def _backbone_state(raw: dict) -> dict:
    """Backbone tensors keyed as timm names them (``conv1.weight``, ``layer1.0...``)."""
    if "model" in raw and isinstance(raw["model"], dict):  # DLC / SuperAnimal snapshot
        raw = raw["model"]
    elif "state_dict" in raw and isinstance(raw["state_dict"], dict):
        raw = raw["state_dict"]
    out = {}
    for k, v in raw.items():
        if not hasattr(v, "shape"):
            continue
        for prefix in ("backbone.model.", "backbone.", "model.", "module."):
            if k.startswith(prefix):
                k = k[len(prefix):]
                break
        if k.startswith(("heads.", "fc.", "head.")):
            continue
        out[k] = v
    return out


def load_backbone_weights(model, path: str | Path) -> dict:
    """Copy matching backbone tensors from ``path`` into ``model.backbone.model``.

    torchvision and timm ResNets share parameter names, so both load. A tensor present
    in both with a different shape is an error (wrong architecture for this backbone).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"training.weights: {str(path)!r} does not exist; give the path of a local weights file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001
        raise WeightsError(f"training.weights: {path} is not a PyTorch weights file ({err})") from err
    if not isinstance(raw, dict):
        raise WeightsError(f"training.weights: {path} holds a {type(raw).__name__}, not a state dict")
    source = _backbone_state(raw)
    target = model.backbone.model.state_dict()
    matched, skipped = {}, 0
    for k, v in source.items():
        if k not in target:
            skipped += 1
            continue
        if tuple(v.shape) != tuple(target[k].shape):
            raise WeightsError(
                f"training.weights: {path} tensor {k!r} has shape {tuple(v.shape)} but the backbone "
                f"needs {tuple(target[k].shape)}; use weights of the same architecture as training.backbone")
        matched[k] = v
    if not matched:
        raise WeightsError(f"training.weights: no tensor of {path} matches the backbone; is it a ResNet state dict?")
    missing = len([k for k in target if k not in matched])
    model.backbone.model.load_state_dict(matched, strict=False)
    return {"matched": len(matched), "skipped": skipped, "missing": missing}
