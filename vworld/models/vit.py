"""Tubelet Vision Transformer encoder of V-JEPA (Bardes et al., 2024) and V-JEPA 2 (Assran et al., 2025).

A video ``(B, C, T, H, W)`` is cut into ``tubelet_size x patch_size x patch_size`` tubelets
(Conv3d), giving ``N = T/t * H/p * W/p`` tokens in time-major order, processed by pre-norm
transformer blocks and a final LayerNorm. Positions are either 3D RoPE on queries and keys
(``pos_embed="rope"``, V-JEPA 2) or an added 3D sin-cos table (``pos_embed="sincos"``,
V-JEPA 1). Parameter names match the official checkpoints (see ``vworld.models.official``).

Input sizes other than the init size work: RoPE uses the actual token grid; the sin-cos table is
rebuilt exactly for the actual grid (the official code instead trilinearly interpolates the
stored table when height or width differ; identical at the init size and for fewer frames).

Single images: the encoder needs ``T`` divisible by ``tubelet_size``; callers encode an image
``(B, C, H, W)`` as ``img.unsqueeze(2).repeat(1, 1, tubelet_size, 1, 1)`` (as V-JEPA 2 does).

Public API:

- ``VisionTransformer(...)``; ``forward(x, masks=None) -> (B, K or N, D)``;
  ``grid(T, H, W) -> (t, h, w)``; attributes ``embed_dim``, ``num_heads``, ``patch_size``,
  ``tubelet_size``, ``depth``.
- ``init_vit_weights(module, std)`` and ``rescale_residual_(blocks)``: the reference init.
"""

from __future__ import annotations

import math

import torch
import torch.utils.checkpoint
from torch import Tensor, nn

from vworld.layers.block import Block
from vworld.layers.patch_embed import PatchEmbed3D, gather_tokens
from vworld.layers.pos_embed import full_grid_positions, grid_positions, sincos_3d
from vworld.layers.rope import ROPE_VARIANTS, RopeAngles, rope_angles

POS_EMBEDS = ("rope", "sincos")


def init_vit_weights(module: nn.Module, std: float = 0.02) -> None:
    """Reference init: truncated normal (std, cut at +-2) for Linear/Conv weights, zero biases,
    unit LayerNorms. Use as ``model.apply(partial(init_vit_weights, std=0.02))``.

    Args:
        module: a submodule visited by ``nn.Module.apply``.
        std: standard deviation of the weights.
    """
    if isinstance(module, nn.Linear | nn.Conv2d | nn.Conv3d):
        nn.init.trunc_normal_(module.weight, std=std, a=-2.0, b=2.0)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


@torch.no_grad()
def rescale_residual_(blocks: nn.ModuleList) -> None:
    """Divide each block's ``attn.proj`` and ``mlp.fc2`` weights by ``sqrt(2 * layer_id)``.

    Args:
        blocks: transformer blocks, ``layer_id`` counting from 1.
    """
    for layer_id, blk in enumerate(blocks, start=1):
        blk.attn.proj.weight.div_(math.sqrt(2.0 * layer_id))
        blk.mlp.fc2.weight.div_(math.sqrt(2.0 * layer_id))


def check_pos_embed(pos_embed: str, rope_variant: str, where: str) -> None:
    """Raise a clear error for an unknown position scheme or RoPE variant."""
    if pos_embed not in POS_EMBEDS:
        raise ValueError(f"{where}: pos_embed must be one of {POS_EMBEDS}, got {pos_embed!r}")
    if rope_variant not in ROPE_VARIANTS:
        raise ValueError(
            f"{where}: rope_variant must be one of {ROPE_VARIANTS}, got {rope_variant!r}"
        )


class VisionTransformer(nn.Module):
    """Video ViT encoder over tubelet tokens, optionally on a subset of tokens.

    Args:
        img_size: init frame size, ``int`` or ``(H, W)`` (sets the stored sin-cos table).
        patch_size: spatial patch side in pixels.
        num_frames: init clip length in frames.
        tubelet_size: frames per tubelet.
        in_chans: input channels.
        embed_dim: token width.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width over ``embed_dim``.
        qkv_bias: bias on the fused qkv projection.
        pos_embed: ``"rope"`` (3D RoPE, V-JEPA 2) or ``"sincos"`` (3D sin-cos table, V-JEPA 1).
        rope_variant: ``"vjepa2"`` (official frequency layout) or ``"standard"``; see
            ``vworld.layers.rope``.
        uniform_power: sin-cos table gives time/height/width equal channels.
        drop_rate: dropout in blocks.
        attn_drop_rate: attention-weight dropout.
        drop_path_rate: stochastic depth at the last block (linear from 0).
        init_std: std of the truncated-normal init.
        grad_checkpointing: recompute block activations in backward (saves memory).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 256,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        pos_embed: str = "rope",
        rope_variant: str = "vjepa2",
        uniform_power: bool = False,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        init_std: float = 0.02,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        check_pos_embed(pos_embed, rope_variant, "VisionTransformer")
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = patch_size
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.in_chans = in_chans
        self.embed_dim = self.num_features = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.pos_embed_type = pos_embed
        self.rope_variant = rope_variant
        self.uniform_power = uniform_power
        self.grad_checkpointing = grad_checkpointing
        self.init_grid = self.grid(num_frames, *self.img_size)

        self.patch_embed = PatchEmbed3D(patch_size, tubelet_size, in_chans, embed_dim)
        if pos_embed == "sincos":
            table = sincos_3d(embed_dim, self.init_grid, uniform_power)
            self.register_buffer("pos_embed", table.unsqueeze(0))  # (1, N, D)
        else:
            self.pos_embed = None
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_path=dpr[i],
            )
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.init_std = init_std
        self.apply(lambda m: init_vit_weights(m, init_std))
        rescale_residual_(self.blocks)

    def grid(self, T: int, H: int, W: int) -> tuple[int, int, int]:
        """Token grid ``(T/t, H/p, W/p)`` of a clip of ``T`` frames of ``H x W`` pixels."""
        t, p = self.tubelet_size, self.patch_size
        if T % t or H % p or W % p or T <= 0 or H <= 0 or W <= 0:
            raise ValueError(
                f"input (T, H, W)=({T}, {H}, {W}) must be positive multiples of "
                f"(tubelet_size, patch_size, patch_size)=({t}, {p}, {p}); repeat a single frame "
                f"tubelet_size times to encode an image"
            )
        return T // t, H // p, W // p

    def pos_table(self, grid: tuple[int, int, int]) -> Tensor:
        """Sin-cos table ``(1, N, D)`` for ``grid`` (the stored buffer at the init grid)."""
        if self.pos_embed is None:
            raise RuntimeError("pos_table needs pos_embed='sincos'")
        if tuple(grid) == self.init_grid:
            return self.pos_embed
        table = sincos_3d(self.embed_dim, grid, self.uniform_power)
        return table.to(self.pos_embed.device, self.pos_embed.dtype).unsqueeze(0)  # (1, N, D)

    def rope(
        self, grid: tuple[int, int, int], masks: Tensor | None, device: torch.device
    ) -> RopeAngles:
        """RoPE angles for all tokens of ``grid`` (``(N, r)``) or the kept ones (``(B, 1, K, r)``)."""
        if masks is None:
            pos = full_grid_positions(grid, device=device)  # (N, 3)
        else:
            pos = grid_positions(masks, grid).unsqueeze(1)  # (B, 1, K, 3)
        return rope_angles(pos, self.embed_dim // self.num_heads, variant=self.rope_variant)

    def forward(self, x: Tensor, masks: Tensor | None = None) -> Tensor:
        """Encode a clip.

        Args:
            x: ``(B, C, T, H, W)`` normalised video.
            masks: optional ``(B, K)`` long indices of the tokens to keep (the context); the
                output then has ``K`` tokens in that order, each at its own grid position.

        Returns:
            ``(B, N, D)`` or ``(B, K, D)`` features after the final LayerNorm.
        """
        if x.ndim != 5 or x.shape[1] != self.in_chans:
            raise ValueError(f"x must be (B, C={self.in_chans}, T, H, W), got {tuple(x.shape)}")
        grid = self.grid(*x.shape[2:])
        x = self.patch_embed(x)  # (B, N, D)
        if self.pos_embed is not None:
            x = x + self.pos_table(grid).to(x.dtype)
        if masks is not None:
            x = gather_tokens(x, masks)  # (B, K, D)
        rope = self.rope(grid, masks, x.device) if self.pos_embed is None else None
        for blk in self.blocks:
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(blk, x, None, rope, use_reentrant=False)
            else:
                x = blk(x, rope=rope)
        return self.norm(x)
