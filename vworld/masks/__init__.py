"""Spatiotemporal mask generators for video JEPA pretraining (V-JEPA, V-JEPA 2)."""

from vworld.masks.multiblock import (
    MaskConfig,
    MaskSampler,
    MultiBlockMask3D,
    mask_seed,
    vjepa2_mask_configs,
)
from vworld.masks.tube import TubeMask

__all__ = [
    "MaskConfig",
    "MaskSampler",
    "MultiBlockMask3D",
    "TubeMask",
    "mask_seed",
    "vjepa2_mask_configs",
]
