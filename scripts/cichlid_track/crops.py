"""Pose-aligned fish images ("crops"), cut in the analysis pass from the frame the pose model sees.

Each detected fish is cut along its body axis, head to the right, scaled to its body length: the same fish
gives the same crop whatever way it swims, so a small identity network (:mod:`.tracking.identity_net`)
learns who it is from few examples. The axis is the keypoints' principal direction; its sign puts the
keypoints listed first in the project (snout, head, ...) to the right, so crops of one project agree
whichever skeleton it has. A fish with fewer than 3 keypoints gets an empty (all-zero) crop.

Layout of ``<prefix>_crops.h5`` (that of ``_bpt_features.h5``): ``frame``, ``frame_offsets``, ``keypoints`` and
``crops`` (M, height, width, 3) uint8, in the colour order of the frames DLC decodes (RGB), as JPEG. It holds every
detection of every ``every``-th frame and, on the other frames, the detections within ``near`` body lengths of
another (:func:`close_to_another`): the contact frames that stitching places one by one, where the network's word
matters most and a crop every 4th frame misses three in four. A reader matches rows to detections by keypoints.
"""
from __future__ import annotations

import numpy as np

from .dlc_pickles import seen_keypoints

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # DLC's inference transform (normalize_images), to undo for storage
IMAGENET_STD = (0.229, 0.224, 0.225)
MARGIN = 1.25  # crop length / body length: fins and a little water around the fish
MIN_KEYPOINTS = 3


def body_frames(poses):
    """Each animal's centre, unit head-ward axis and body length, from its keypoints (torch, batched).

    poses: (..., K, >=2) tensor (NaN or DLC's padding = missing). Returns centre (..., 2), axis (..., 2),
    length (...,) and usable (...,): at least :data:`MIN_KEYPOINTS` keypoints spread over >= 4 px."""
    import torch

    from .features import valid_keypoints

    shape = poses.shape[:-2]
    flat = poses.reshape(-1, 1, *poses.shape[-2:])
    valid = valid_keypoints(flat)[:, 0]  # (N, K)
    xy = torch.nan_to_num(flat[:, 0, :, :2].float())
    w = valid.float()
    count = w.sum(-1).clamp(min=1)
    centre = (xy * w[..., None]).sum(-2) / count[..., None]
    d = (xy - centre[:, None]) * w[..., None]
    cxx, cyy, cxy = (d[..., 0] ** 2).sum(-1), (d[..., 1] ** 2).sum(-1), (d[..., 0] * d[..., 1]).sum(-1)
    angle = 0.5 * torch.atan2(2 * cxy, cxx - cyy)
    axis = torch.stack([torch.cos(angle), torch.sin(angle)], -1)
    proj = (d * axis[:, None]).sum(-1)  # (N, K), 0 where missing
    k = torch.arange(xy.shape[1], device=xy.device, dtype=xy.dtype)
    order = (k.mean() - k) * w  # keypoints listed first weigh positive
    sign = torch.where((order * proj).sum(-1) < 0, -1.0, 1.0)
    axis = axis * sign[:, None]
    big = torch.finfo(proj.dtype).max
    length = torch.where(valid, proj, torch.full_like(proj, -big)).amax(-1) - \
        torch.where(valid, proj, torch.full_like(proj, big)).amin(-1)
    usable = (valid.sum(-1) >= MIN_KEYPOINTS) & (length >= 4)
    length = torch.where(usable, length, torch.zeros_like(length))
    return (centre.reshape(*shape, 2), axis.reshape(*shape, 2), length.reshape(shape), usable.reshape(shape))


def aligned_crops(images, poses, size: tuple[int, int], normalized: bool = True, margin: float = MARGIN):
    """(B, n, height, width, 3) uint8 crops of every animal in a batch of model inputs (torch, on their device).

    images: (B, 3, H, W) model inputs; poses: (B, n, K, >=2) in their pixels; size: (width, height);
    normalized: the inputs went through ImageNet normalisation (DLC's ``normalize_images``). Crops are
    bilinear samples along each body axis; unusable poses give zeros."""
    import torch
    import torch.nn.functional as F

    width, height = size
    b, _, h_in, w_in = images.shape
    n = poses.shape[1]
    if n == 0:
        return torch.zeros((b, 0, height, width, 3), dtype=torch.uint8, device=images.device)
    centre, axis, length, usable = body_frames(poses)
    along = 0.5 * margin * length  # (B, n)
    across = along * height / width  # square pixels
    normal = torch.stack([-axis[..., 1], axis[..., 0]], -1)
    u = (2 * torch.arange(width, device=images.device, dtype=torch.float32) + 1) / width - 1
    v = (2 * torch.arange(height, device=images.device, dtype=torch.float32) + 1) / height - 1
    # source pixel of crop pixel (v, u): centre + u * along * axis + v * across * normal; (B, n, H, W, 2)
    src = (centre[:, :, None, None] + u[None, None, None, :, None] * (along[..., None, None, None] * axis[:, :, None, None])
           + v[None, None, :, None, None] * (across[..., None, None, None] * normal[:, :, None, None]))
    grid = torch.stack([(2 * src[..., 0] + 1) / w_in - 1, (2 * src[..., 1] + 1) / h_in - 1], -1)
    grid = grid.reshape(b, n * height, width, 2).to(images.dtype)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    out = out.reshape(b, 3, n, height, width).permute(0, 2, 3, 4, 1).float()  # (B, n, H, W, 3)
    if normalized:
        mean = torch.tensor(IMAGENET_MEAN, device=out.device)
        std = torch.tensor(IMAGENET_STD, device=out.device)
        out = (out * std + mean) * 255
    elif float(images.max()) <= 1.5:
        out = out * 255
    out = out.clamp(0, 255).round().to(torch.uint8)
    return out * usable[..., None, None, None].to(torch.uint8)


def usable_crops(crops: np.ndarray) -> np.ndarray:
    """(M,) mask of crops that hold a fish (the analysis writes zeros where the pose had too few keypoints)."""
    if not len(crops):  # a frame without fish
        return np.zeros(0, bool)
    return crops.reshape(len(crops), -1).max(axis=1) > 0


def close_to_another(keypoints: np.ndarray, body_lengths: float | None) -> np.ndarray:
    """(n,) mask of the detections of one frame whose centre lies within ``body_lengths`` of another's.

    keypoints: (n, K, >=2), NaN where missing. The body length is the frame's median extent (bounding-box
    diagonal, as stitching measures it) over detections of at least :data:`MIN_KEYPOINTS` keypoints, so that a
    fish seen in part does not shrink it. These are the fish that stitching cuts out at contacts (``reid.contact``)
    and places one frame at a time, where the identity network's word on a crop helps most."""
    n = len(keypoints)
    if n < 2 or not body_lengths:
        return np.zeros(n, bool)
    xy = np.asarray(keypoints, dtype=np.float64)[..., :2]
    ok = seen_keypoints(xy)
    count = ok.sum(-1)
    whole = count >= MIN_KEYPOINTS
    if not whole.any():
        return np.zeros(n, bool)
    with np.errstate(invalid="ignore"):
        lo = np.where(ok[..., None], xy, np.inf).min(1)
        hi = np.where(ok[..., None], xy, -np.inf).max(1)
    length = float(np.median(np.linalg.norm(hi[whole] - lo[whole], axis=1)))
    centre = np.where(ok[..., None], xy, 0.0).sum(1) / np.maximum(count, 1)[:, None]
    d = np.linalg.norm(centre[:, None] - centre[None], axis=-1)
    d[~((count > 0)[:, None] & (count > 0)[None])] = np.inf
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1) < body_lengths * length
