"""Block-causal attention for the action-conditioned predictor (V-JEPA 2-AC).

A token of step t attends to every token of steps <= t. :class:`ACAttention` takes
precomputed RoPE tables and has a step-wise path that appends one step's keys and values to a
cache, so a planner's imagined steps cost only their own tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vworld.layers.mlp import MLP
from vworld.layers.rope import apply_rope

__all__ = ["ACAttention", "ACBlock", "build_block_causal_mask"]


def build_block_causal_mask(
    num_steps: int, tokens_per_step: int, device: torch.device | None = None
) -> Tensor:
    """Boolean attention mask (True = may attend): step t sees all tokens of steps <= t.

    Args:
        num_steps: number of time steps T.
        tokens_per_step: tokens in each step's group (conditioning tokens + frame tokens).
        device: where to build the mask.

    Returns:
        ``(T*L, T*L)`` bool tensor.
    """
    step = torch.arange(num_steps * tokens_per_step, device=device) // tokens_per_step
    return step[:, None] >= step[None, :]


class ACAttention(nn.Module):
    """Multi-head self-attention with precomputed RoPE tables and a step-wise cached path.

    Args:
        dim: model width.
        num_heads: attention heads (``dim`` must divide evenly).
        qkv_bias: bias on the fused qkv projection.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _qkv(self, x: Tensor, rope: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor, Tensor]:
        b, n, _ = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.num_heads, self.head_dim)  # (B, N, 3, heads, hd)
        v = qkv[:, :, 2].transpose(1, 2)  # (B, heads, N, hd)
        qk = qkv[:, :, :2]  # (B, N, 2, heads, hd)
        if rope is not None:  # queries and keys rotated in one pass; tables (N, r) -> (N, 1, 1, r)
            qk = apply_rope(qk, rope[0][:, None, None], rope[1][:, None, None])
        q, k = qk.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, N, hd)
        return q, k, v

    def _out(self, o: Tensor) -> Tensor:
        b, _, n, _ = o.shape
        return self.proj(o.transpose(1, 2).reshape(b, n, -1))  # (B, N, C)

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor] | None, attn_mask: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Full sequence; returns the output and the (rotated) keys and values for caching."""
        q, k, v = self._qkv(x, rope)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self._out(o), k, v

    def forward_step(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None,
        ctx_kv: tuple[Tensor, Tensor] | None,
        own: list[Tensor | None],
        start: int,
    ) -> Tensor:
        """One new step of ``L`` tokens for N sequences, attending to the cache and itself.

        Args:
            x: ``(N, L, C)`` the new step's tokens.
            rope: cos/sin tables ``(L, hd)`` for this step.
            ctx_kv: shared context keys/values ``(1 or N, heads, Lc, hd)`` or None.
            own: ``[keys, values]`` of this sequence's earlier planned steps. Without autograd
                they are preallocated buffers ``(N, heads, Lmax, hd)`` written in place at
                ``[start, start + L)``; with autograd they grow by concatenation (in-place
                writes would invalidate saved tensors). ``[None, None]`` before the first step.
            start: how many planned-step tokens precede this step.
        """
        q, k, v = self._qkv(x, rope)
        n, heads, length, hd = q.shape
        end = start + length
        if own[0] is not None and not torch.is_grad_enabled():
            own[0][:, :, start:end] = k
            own[1][:, :, start:end] = v
            k_o, v_o = own[0][:, :, :end], own[1][:, :, :end]  # (N, heads, end, hd) views
        else:
            k_o = k if start == 0 else torch.cat([own[0], k], dim=2)  # (N, heads, end, hd)
            v_o = v if start == 0 else torch.cat([own[1], v], dim=2)
            own[0], own[1] = k_o, v_o
        if ctx_kv is None:
            return self._out(F.scaled_dot_product_attention(q, k_o, v_o))
        k_c, v_c = ctx_kv
        # Two-part softmax (as in flash attention): context scores and own scores are
        # normalised together without concatenating keys, so the shared context is never copied.
        s_o = (q @ k_o.transpose(-2, -1)) * self.scale  # (N, heads, L, end)
        if k_c.shape[0] == 1 and n > 1:
            # One big GEMM against the shared context: fold candidates into the query rows.
            q_f = q.transpose(0, 1).reshape(heads, n * length, hd)  # (heads, N*L, hd)
            s_c = (q_f @ k_c[0].transpose(-2, -1)) * self.scale  # (heads, N*L, Lc)
            m_c = s_c.amax(-1, keepdim=True).view(heads, n, length, 1).transpose(0, 1)
            m = torch.maximum(m_c, s_o.amax(-1, keepdim=True))  # (N, heads, L, 1)
            m_f = m.transpose(0, 1).reshape(heads, n * length, 1)  # (heads, N*L, 1)
            e_c = torch.exp(s_c - m_f)  # (heads, N*L, Lc)
            o_c = (e_c @ v_c[0]).view(heads, n, length, hd).transpose(0, 1)  # (N, heads, L, hd)
            z_c = e_c.sum(-1, keepdim=True).view(heads, n, length, 1).transpose(0, 1)
        else:
            s_c = (q @ k_c.transpose(-2, -1)) * self.scale  # (N, heads, L, Lc)
            m = torch.maximum(s_c.amax(-1, keepdim=True), s_o.amax(-1, keepdim=True))
            e_c = torch.exp(s_c - m)
            o_c, z_c = e_c @ v_c, e_c.sum(-1, keepdim=True)
        e_o = torch.exp(s_o - m)  # (N, heads, L, end)
        o = (o_c + e_o @ v_o) / (z_c + e_o.sum(-1, keepdim=True))  # (N, heads, L, hd)
        return self._out(o)


class ACBlock(nn.Module):
    """Pre-norm transformer block (attention + GELU MLP) with a cached single-step path.

    Args:
        dim: model width.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``dim``.
        qkv_bias: bias on the qkv projection.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = ACAttention(dim, num_heads, qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(
        self, x: Tensor, rope: tuple[Tensor, Tensor] | None, attn_mask: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        y, k, v = self.attn(self.norm1(x), rope, attn_mask)
        x = x + y
        return x + self.mlp(self.norm2(x)), k, v

    def forward_step(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None,
        ctx_kv: tuple[Tensor, Tensor] | None,
        own: list[Tensor | None],
        start: int,
    ) -> Tensor:
        x = x + self.attn.forward_step(self.norm1(x), rope, ctx_kv, own, start)
        return x + self.mlp(self.norm2(x))
