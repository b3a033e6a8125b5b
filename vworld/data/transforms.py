"""Clip transforms for video pretraining: random-resized crop, flip and normalisation.

Follows the V-JEPA / V-JEPA 2 video augmentation: one random-resized crop box (the
torchvision/Inception sampling of scale and aspect ratio) shared by every frame of a clip,
a horizontal flip, and ImageNet mean/std normalisation. The resize runs on uint8
channels-last tensors with antialiasing, the fastest path of ``F.interpolate`` on CPU
(several times faster than float32), and only then converts to float, in the same pass
that makes the clip contiguous.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "denormalize",
    "normalize",
    "random_resized_crop_box",
    "resize_crop_clip",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _stats(x: torch.Tensor, channel_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    if x.shape[channel_dim] != 3:
        raise ValueError(
            f"normalize: expected 3 channels at dim {channel_dim}, got shape {tuple(x.shape)}"
        )
    shape = [1] * x.dim()
    shape[channel_dim] = 3
    dtype = x.dtype if x.is_floating_point() else torch.float32
    mean = torch.tensor(IMAGENET_MEAN, dtype=dtype, device=x.device).view(shape)
    std = torch.tensor(IMAGENET_STD, dtype=dtype, device=x.device).view(shape)
    return mean, std


def normalize(x: torch.Tensor, channel_dim: int = -4) -> torch.Tensor:
    """ImageNet-normalise pixels: uint8 in [0, 255] or floats in [0, 1].

    Args:
        x: a clip ``(C, T, H, W)`` or batch ``(B, C, T, H, W)`` (channels at ``-4``), or any
            tensor with 3 channels at ``channel_dim`` (use ``-3`` for images).
        channel_dim: the channel dimension.
    Returns:
        A float tensor (float32 and contiguous for uint8 input, else the input's dtype).
    """
    mean, std = _stats(x, channel_dim)
    if x.dtype == torch.uint8:
        # One conversion pass that also makes the layout contiguous, then two in-place ops
        # instead of the four passes of (x / 255 - mean) / std.
        y = x.to(torch.float32, memory_format=torch.contiguous_format)
        return y.sub_(mean * 255.0).mul_(1.0 / (std * 255.0))
    return (x - mean) / std


def denormalize(x: torch.Tensor, channel_dim: int = -4, clamp: bool = True) -> torch.Tensor:
    """Invert ``normalize``: floats in [0, 1] (clamped unless ``clamp=False``).

    Args:
        x: normalised pixels with 3 channels at ``channel_dim``.
        channel_dim: the channel dimension.
        clamp: clip to [0, 1] (for display).
    """
    mean, std = _stats(x, channel_dim)
    y = x * std + mean
    return y.clamp_(0.0, 1.0) if clamp else y


def random_resized_crop_box(
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[int, int, int, int]:
    """A crop box ``(top, left, crop_h, crop_w)`` with torchvision's RandomResizedCrop rule.

    Area fraction is uniform in ``scale`` and the aspect ratio (w/h) log-uniform in
    ``ratio``; after ten failed tries it falls back to the largest central crop whose
    ratio is inside ``ratio``.

    Args:
        height: frame height.
        width: frame width.
        scale: range of the crop area as a fraction of the frame.
        ratio: range of crop width / height.
        rng: the source of randomness.
    """
    area = height * width
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        ar = math.exp(rng.uniform(*log_r))
        w = round(math.sqrt(target * ar))
        h = round(math.sqrt(target / ar))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def resize_crop_clip(
    frames: np.ndarray | torch.Tensor,
    box: tuple[int, int, int, int],
    size: int | tuple[int, int],
    hflip: bool = False,
) -> torch.Tensor:
    """Crop one box from every frame and resize it: a uint8 clip ``(C, T, H, W)``.

    The result is a view in the resize's channels-last layout (not contiguous); ``normalize``
    converts it to contiguous floats in one pass.

    Args:
        frames: ``(T, H, W, 3)`` uint8 RGB frames (as ``open_video(...).get_frames`` gives).
        box: ``(top, left, crop_h, crop_w)``.
        size: output side, or ``(height, width)``.
        hflip: flip left-right.
    """
    top, left, h, w = box
    x = torch.as_tensor(frames)[:, top : top + h, left : left + w]  # (T, h, w, 3)
    x = x.permute(0, 3, 1, 2)  # (T, 3, h, w), channels-last in memory
    out = (size, size) if isinstance(size, int) else tuple(size)
    if (h, w) != out:
        x = F.interpolate(x, size=out, mode="bilinear", antialias=True, align_corners=False)
    if hflip:
        x = x.flip(-1)
    return x.permute(1, 0, 2, 3)  # (3, T, H, W)
