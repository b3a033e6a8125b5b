"""Reusable transformer pieces for vworld's video models (V-JEPA / V-JEPA 2 conventions)."""

from vworld.layers.attention import Attention
from vworld.layers.block import Block, DropPath
from vworld.layers.mlp import MLP
from vworld.layers.patch_embed import PatchEmbed3D, gather_tokens
from vworld.layers.pos_embed import full_grid_positions, grid_positions, sincos_1d, sincos_3d
from vworld.layers.rope import RopeAngles, apply_rope, rope_angles, rope_axis_dim

__all__ = [
    "MLP",
    "Attention",
    "Block",
    "DropPath",
    "PatchEmbed3D",
    "RopeAngles",
    "apply_rope",
    "full_grid_positions",
    "gather_tokens",
    "grid_positions",
    "rope_angles",
    "rope_axis_dim",
    "sincos_1d",
    "sincos_3d",
]
