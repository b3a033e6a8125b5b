"""Pre-norm transformer block (LayerNorm eps 1e-6, attention, MLP, stochastic depth).

As in ViT / V-JEPA (``src/models/utils/modules.py``: ``Block``); parameter names ``norm1``,
``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2`` match official checkpoints.

Public API:

- ``Block(dim, num_heads, mlp_ratio=4.0, qkv_bias=True, drop=0.0, attn_drop=0.0,
  drop_path=0.0, norm_eps=1e-6)``
- ``Block.forward(x, attn_mask=None, rope=None) -> x`` (see ``vworld.layers.attention``).
- ``DropPath(drop_prob)``: per-sample stochastic depth.
"""

from __future__ import annotations

from torch import Tensor, nn

from vworld.layers.attention import Attention
from vworld.layers.mlp import MLP
from vworld.layers.rope import RopeAngles


class DropPath(nn.Module):
    """Drop the whole residual branch per sample with probability ``drop_prob`` (training only).

    Args:
        drop_prob: probability of dropping a sample's branch.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: Tensor) -> Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * x.new_empty(shape).bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


class Block(nn.Module):
    """``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``.

    Args:
        dim: token width.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width is ``int(dim * mlp_ratio)``.
        qkv_bias: bias on the fused qkv projection.
        drop: dropout after the attention projection and in the MLP.
        attn_drop: dropout on attention weights.
        drop_path: stochastic depth probability of both residual branches.
        norm_eps: LayerNorm epsilon.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=drop
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = MLP(dim, int(dim * mlp_ratio), drop=drop)

    def forward(
        self, x: Tensor, attn_mask: Tensor | None = None, rope: RopeAngles | None = None
    ) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), attn_mask=attn_mask, rope=rope))
        return x + self.drop_path(self.mlp(self.norm2(x)))
