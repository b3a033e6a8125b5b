"""Masked latent predictor of V-JEPA (Bardes et al., 2024) and V-JEPA 2 (Assran et al., 2025).

A narrow transformer: context features from the encoder are mapped to the predictor width, a
learnable mask token (one per mask generator) is placed at every target position, all tokens
carry the positions of their grid cell (3D RoPE or the added sin-cos table) and, after the
blocks, the target outputs are projected back to the encoder width. Parameter names
(``predictor_embed``, ``mask_tokens.{i}``, ``predictor_pos_embed``, ``predictor_blocks``,
``predictor_norm``, ``predictor_proj``) match the official checkpoints.

Differences from the official ``VisionTransformerPredictor`` that do not change outputs: the
official V-JEPA 2 code sorts context+target tokens by position before the blocks and unsorts
after; with full (unmasked) attention and no chopped tokens that is a permutation the blocks
commute with, so it is skipped. Positions are decoded with the grid passed to ``forward``
(the official predictor always uses its init grid, which only agrees at the init size).
As in the official code, ``mask_index`` is taken modulo ``num_mask_tokens``.

Public API: ``MaskedPredictor(...)``;
``forward(ctx, masks_ctx, masks_tgt, grid, mask_index=0) -> (B, Nt, embed_dim)``.
"""

from __future__ import annotations

import torch
import torch.utils.checkpoint
from torch import Tensor, nn

from vworld.layers.block import Block
from vworld.layers.patch_embed import gather_tokens
from vworld.layers.pos_embed import grid_positions, sincos_3d
from vworld.layers.rope import rope_angles
from vworld.models.vit import check_pos_embed, init_vit_weights, rescale_residual_


class MaskedPredictor(nn.Module):
    """Predict target-token features from context tokens and target positions.

    Args:
        embed_dim: encoder width (input and output width).
        predictor_embed_dim: predictor width.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width over ``predictor_embed_dim``.
        qkv_bias: bias on the fused qkv projection.
        num_mask_tokens: learnable mask tokens, one per mask generator.
        zero_init_mask_tokens: start mask tokens at zero (else truncated normal).
        pos_embed: ``"rope"`` (V-JEPA 2) or ``"sincos"`` (V-JEPA 1).
        rope_variant: ``"vjepa2"`` (official) or ``"standard"``; see ``vworld.layers.rope``.
        uniform_power: sin-cos table gives time/height/width equal channels.
        img_size: init frame size (sets the stored sin-cos table).
        patch_size: encoder patch size.
        num_frames: init clip length.
        tubelet_size: encoder tubelet size.
        drop_path_rate: stochastic depth at the last block.
        init_std: std of the truncated-normal init.
        grad_checkpointing: recompute block activations in backward.
    """

    def __init__(
        self,
        embed_dim: int = 1024,
        predictor_embed_dim: int = 384,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        num_mask_tokens: int = 2,
        zero_init_mask_tokens: bool = True,
        pos_embed: str = "rope",
        rope_variant: str = "vjepa2",
        uniform_power: bool = False,
        img_size: int | tuple[int, int] = 256,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        drop_path_rate: float = 0.0,
        init_std: float = 0.02,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        check_pos_embed(pos_embed, rope_variant, "MaskedPredictor")
        if num_mask_tokens < 1:
            raise ValueError(f"num_mask_tokens must be >= 1, got {num_mask_tokens}")
        img_hw = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.embed_dim = embed_dim
        self.predictor_embed_dim = predictor_embed_dim
        self.num_heads = num_heads
        self.depth = depth
        self.num_mask_tokens = num_mask_tokens
        self.pos_embed_type = pos_embed
        self.rope_variant = rope_variant
        self.uniform_power = uniform_power
        self.grad_checkpointing = grad_checkpointing
        self.init_grid = (
            num_frames // tubelet_size,
            img_hw[0] // patch_size,
            img_hw[1] // patch_size,
        )

        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim)
        self.mask_tokens = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, predictor_embed_dim)) for _ in range(num_mask_tokens)
        )
        if pos_embed == "sincos":
            table = sincos_3d(predictor_embed_dim, self.init_grid, uniform_power)
            self.register_buffer("predictor_pos_embed", table.unsqueeze(0))  # (1, N, Dp)
        else:
            self.predictor_pos_embed = None
        dpr = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.predictor_blocks = nn.ModuleList(
            Block(
                predictor_embed_dim,
                num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=dpr[i],
            )
            for i in range(depth)
        )
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=1e-6)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim)

        if not zero_init_mask_tokens:
            for tok in self.mask_tokens:
                nn.init.trunc_normal_(tok, std=init_std, a=-2.0, b=2.0)
        self.apply(lambda m: init_vit_weights(m, init_std))
        rescale_residual_(self.predictor_blocks)

    def pos_table(self, grid: tuple[int, int, int]) -> Tensor:
        """Sin-cos table ``(1, N, Dp)`` for ``grid`` (the stored buffer at the init grid)."""
        if self.predictor_pos_embed is None:
            raise RuntimeError("pos_table needs pos_embed='sincos'")
        if tuple(grid) == self.init_grid:
            return self.predictor_pos_embed
        table = sincos_3d(self.predictor_embed_dim, grid, self.uniform_power)
        return table.to(self.predictor_pos_embed.device, self.predictor_pos_embed.dtype).unsqueeze(
            0
        )

    def forward(
        self,
        ctx: Tensor,
        masks_ctx: Tensor,
        masks_tgt: Tensor,
        grid: tuple[int, int, int],
        mask_index: int = 0,
    ) -> Tensor:
        """Predict the features of the target tokens.

        Args:
            ctx: ``(B, Nc, embed_dim)`` encoder features of the context tokens.
            masks_ctx: ``(B, Nc)`` long grid indices of the context tokens.
            masks_tgt: ``(B, Nt)`` long grid indices of the target tokens.
            grid: token grid ``(t, h, w)`` the indices refer to.
            mask_index: which mask token to use (the mask generator's index).

        Returns:
            ``(B, Nt, embed_dim)`` predicted target features.
        """
        B, Nc, _ = ctx.shape
        if masks_ctx.shape != (B, Nc) or masks_tgt.ndim != 2 or masks_tgt.shape[0] != B:
            raise ValueError(
                f"expected masks_ctx (B={B}, Nc={Nc}) and masks_tgt "
                f"(B, Nt), got {tuple(masks_ctx.shape)} and {tuple(masks_tgt.shape)}"
            )
        Nt = masks_tgt.shape[1]
        x = self.predictor_embed(ctx)  # (B, Nc, Dp)
        tgt = self.mask_tokens[mask_index % self.num_mask_tokens].expand(B, Nt, -1)  # (B, Nt, Dp)
        if self.predictor_pos_embed is not None:
            table = self.pos_table(grid).to(x.dtype).expand(B, -1, -1)  # (B, N, Dp)
            x = x + gather_tokens(table, masks_ctx)
            tgt = tgt + gather_tokens(table, masks_tgt)
        x = torch.cat((x, tgt.to(x.dtype)), dim=1)  # (B, Nc + Nt, Dp)
        rope = None
        if self.predictor_pos_embed is None:
            ids = torch.cat((masks_ctx, masks_tgt), dim=1)  # (B, Nc + Nt)
            pos = grid_positions(ids, grid).unsqueeze(1)  # (B, 1, Nc + Nt, 3)
            rope = rope_angles(
                pos, self.predictor_embed_dim // self.num_heads, variant=self.rope_variant
            )
        for blk in self.predictor_blocks:
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(blk, x, None, rope, use_reentrant=False)
            else:
                x = blk(x, rope=rope)
        x = self.predictor_norm(x[:, Nc:])  # (B, Nt, Dp)
        return self.predictor_proj(x)
