"""Multi-head self-attention with a fused qkv projection, SDPA and optional 3D RoPE.

As in V-JEPA / V-JEPA 2 (``src/models/utils/modules.py``: ``Attention``, ``RoPEAttention``);
parameter names ``qkv`` and ``proj`` match the official checkpoints.

Public API:

- ``Attention(dim, num_heads=8, qkv_bias=True, attn_drop=0.0, proj_drop=0.0)``
- ``Attention.forward(x, attn_mask=None, rope=None, is_causal=False) -> (B, N, dim)``

  ``x: (B, N, dim)``. ``attn_mask``: optional boolean mask (``True`` = may attend) or additive
  float mask, broadcastable to ``(B, heads, N, N)``, passed to
  ``torch.nn.functional.scaled_dot_product_attention``. ``rope``: optional precomputed
  ``(cos, sin)`` from ``vworld.layers.rope.rope_angles`` for exactly the tokens in ``x`` (shape
  ``(N, r)`` shared by the batch or ``(B, 1, N, r)`` per sample); applied to queries and keys
  only. Angles are computed once per forward pass by the model and shared by all blocks.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from vworld.layers.rope import RopeAngles, apply_rope


class Attention(nn.Module):
    """Self-attention over a token sequence.

    Args:
        dim: token width.
        num_heads: attention heads; ``dim`` must be divisible by it.
        qkv_bias: add a bias to the fused qkv projection.
        attn_drop: dropout on attention weights while training.
        proj_drop: dropout after the output projection while training.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(
        self,
        x: Tensor,
        attn_mask: Tensor | None = None,
        rope: RopeAngles | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.num_heads, self.head_dim)  # (B, N, 3, heads, hd)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, hd)
        if rope is not None:
            cos, sin = rope
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask,
            dropout_p=self.attn_drop if self.training else 0.0,
            is_causal=is_causal,
        )  # (B, heads, N, hd)
        x = x.transpose(1, 2).reshape(B, N, C)  # (B, N, dim)
        return self.proj_drop(self.proj(x))
