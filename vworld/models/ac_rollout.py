"""The two rollout paths of the V-JEPA 2-AC predictor (``vworld/models/ac_predictor.py``).

``rollout_cached`` is what planning uses: the context is encoded once and each of the H planned
steps costs only its own tokens. ``rollout_uncached`` re-runs the full forward pass per step; it
is the reference the cached path is tested against. Both are the class's companions and use its
private embedding (``_embed``), positions (``_rope``) and readout (``_readout``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from vworld.layers.block_causal import build_block_causal_mask

if TYPE_CHECKING:
    from vworld.models.ac_predictor import ActionConditionedPredictor as ACPredictor

__all__ = ["StateFn", "rollout_cached", "rollout_uncached"]

StateFn = Callable[[Tensor, Tensor], Tensor]


def _next_state(s_pred: Tensor | None, s: Tensor, a: Tensor, state_fn: StateFn | None) -> Tensor:
    if state_fn is None:
        assert s_pred is not None
        return s_pred
    return state_fn(s[:, 0], a[:, 0]).unsqueeze(1)  # (N, 1, S)


def rollout_uncached(
    model: ACPredictor,
    z_ctx: Tensor,
    s_ctx: Tensor,
    a_ctx: Tensor,
    actions: Tensor,
    e_ctx: Tensor | None,
    state_fn: StateFn | None,
) -> tuple[Tensor, Tensor]:
    """Re-run ``model.forward`` on the growing sequence, one planned step at a time (the
    reference path: every step recomputes the whole prefix)."""
    n, horizon = actions.shape[:2]
    z_seq = z_ctx.expand(n, -1, -1, -1)
    s_seq = s_ctx.expand(n, -1, -1)
    a_seq = a_ctx.expand(n, -1, -1)
    e_seq = None if e_ctx is None else e_ctx.expand(n, -1, -1)
    zs, ss = [], []
    for j in range(horizon):
        a_in = torch.cat([a_seq, actions[:, : j + 1]], dim=1)
        z_out, s_out = model(z_seq, a_in, s_seq, e_seq)
        z_next = z_out[:, -1:]
        s_last = None if s_out is None else s_out[:, -1:]
        s_next = _next_state(s_last, s_seq[:, -1:], actions[:, j : j + 1], state_fn)
        zs.append(z_next)
        ss.append(s_next)
        z_seq = torch.cat([z_seq, z_next], dim=1)
        s_seq = torch.cat([s_seq, s_next], dim=1)
        if e_seq is not None:
            e_seq = torch.cat([e_seq, e_seq[:, -1:]], dim=1)
    return torch.cat(zs, dim=1), torch.cat(ss, dim=1)


def rollout_cached(
    model: ACPredictor,
    z_ctx: Tensor,
    s_ctx: Tensor,
    a_ctx: Tensor,
    actions: Tensor,
    e_ctx: Tensor | None,
    state_fn: StateFn | None,
) -> tuple[Tensor, Tensor]:
    """Run the context steps once at their own batch, share their keys and values (never
    copied) with all N candidates, and compute each planned step's own tokens only."""
    n, horizon = actions.shape[:2]
    tc, length = z_ctx.shape[1], model.tokens_per_step
    dev = z_ctx.device
    ctx_kv: list[tuple[Tensor, Tensor] | None] = [None] * len(model.predictor_blocks)
    if tc > 1:  # context steps with known actions: once, at the context's own batch
        e_in = None if e_ctx is None else e_ctx[:, :-1]
        x = model._embed(z_ctx[:, :-1], a_ctx, s_ctx[:, :-1], e_in)
        rope = model._rope(0, tc - 1, dev)
        mask = build_block_causal_mask(tc - 1, length, dev)
        for i, blk in enumerate(model.predictor_blocks):
            x, k, v = blk(x, rope, mask)
            ctx_kv[i] = (k, v)  # (B, heads, (Tc-1)*L, hd), shared by all candidates
    own: list[list[Tensor | None]] = [[None, None] for _ in model.predictor_blocks]
    if not torch.is_grad_enabled():  # preallocate: each step writes its keys/values in place
        buf_shape = (n, model.num_heads, horizon * length, model.head_dim)
        dtype = model.predictor_embed.weight.dtype
        if torch.is_autocast_enabled(dev.type):  # keys/values come out in the autocast dtype
            dtype = torch.get_autocast_dtype(dev.type)
        own = [
            [torch.empty(buf_shape, device=dev, dtype=dtype) for _ in range(2)]
            for _ in model.predictor_blocks
        ]
    z_t = z_ctx[:, -1:].expand(n, -1, -1, -1)  # (N, 1, Np', D)
    s_t = s_ctx[:, -1:].expand(n, -1, -1)  # (N, 1, S)
    e_t = None if e_ctx is None else e_ctx[:, -1:].expand(n, -1, -1)
    zs, ss = [], []
    for j in range(horizon):
        a_j = actions[:, j : j + 1]
        x = model._embed(z_t, a_j, s_t, e_t)  # (N, L, C)
        rope = model._rope(tc - 1 + j, 1, dev)
        for blk, kv, own_kv in zip(model.predictor_blocks, ctx_kv, own):
            x = blk.forward_step(x, rope, kv, own_kv, j * length)
        z_next, s_pred = model._readout(x, s_t, z_t)
        s_t = _next_state(s_pred, s_t, a_j, state_fn)
        z_t = z_next
        zs.append(z_next)
        ss.append(s_t)
    return torch.cat(zs, dim=1), torch.cat(ss, dim=1)
