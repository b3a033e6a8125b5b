"""Action-conditioned latent predictor with a KV-cached rollout (V-JEPA 2-AC).

Follows Assran et al., "V-JEPA 2: Self-Supervised Video Models Enable Understanding, Prediction
and Planning" (2025), section 3 (V-JEPA 2-AC). Each time step t is the token group
``[action a_t, state s_t, (extrinsics e_t), frame tokens z_t]``; a transformer with a
block-causal mask (a token of step t sees every token of steps <= t) predicts, at step t, the
frame tokens of step t+1. Frame tokens carry 3D RoPE (time, height, width); action, state and
extrinsics tokens rotate only the temporal channels, as in the reference ``ACRoPEAttention``,
so official checkpoints load unchanged (see ``vworld/models/official_ac.py``).

Additions over the reference: a small head predicting the next proprioceptive state (so a
rollout needs no simulator), optional average pooling of each frame's tokens to a smaller grid
for cheap planning, and ``rollout``: the context is run once at batch 1, its keys and values are
shared (never copied) by all N candidate action sequences, and each planned step then costs only
its own tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vworld.layers.block_causal import ACBlock, build_block_causal_mask
from vworld.layers.mlp import MLP
from vworld.layers.pooling import pool_tokens
from vworld.layers.rope import rope_angles, rope_axis_dim
from vworld.models.ac_rollout import StateFn, rollout_cached, rollout_uncached
from vworld.models.registry import register_configs


class ActionConditionedPredictor(nn.Module):
    """V-JEPA 2-AC predictor: next-step frame tokens and proprioceptive state from actions.

    Args:
        embed_dim: width D of the frozen encoder's tokens (input and output).
        action_dim: action size A.
        state_dim: proprioceptive state size S.
        grid: the encoder's token grid ``(h, w)`` for one frame.
        predictor_embed_dim: transformer width.
        depth: number of blocks.
        num_heads: attention heads.
        mlp_ratio: MLP hidden width as a multiple of ``predictor_embed_dim``.
        max_steps: the longest sequence of time steps accepted.
        pool_grid: average-pool each frame's tokens to ``(h', w')`` before the predictor (the
            outputs are on that grid; pool targets with ``pool_tokens``). ``None``: no pooling.
        use_rope: 3D RoPE on frame tokens, temporal RoPE on conditioning tokens. Without it the
            model has no positional information (as the reference with ``use_rope=False``).
        rope_variant: ``"vjepa2"`` (official frequency layout) or ``"standard"``; see
            ``vworld.layers.rope``.
        qkv_bias: bias on the attention qkv projections.
        extrinsics_dim: size of a camera-extrinsics input; >0 adds an extrinsics token after the
            state token (the reference's ``use_extrinsics``). 0: no such token.
        state_head: predict the next state with a small MLP on the state token's output
            (residual: ``s_{t+1} = s_t + head(.)``). Official checkpoints have none.
        residual: predict the change of the frame tokens, ``z_{t+1} = z_t + out`` (copying the
            last latent is then the starting point; helps small models learn fast). Official
            checkpoints predict ``z_{t+1}`` directly (``False``).
        normalize_output: layer-norm (no affine) the predicted frame tokens, as V-JEPA 2-AC
            does with its targets and with predictions fed back during rollouts.
        init_std: std of the truncated-normal initialisation of linear weights.
    """

    learned_latent = False  # predicts the encoder's own tokens (no projector)

    def __init__(
        self,
        embed_dim: int,
        action_dim: int,
        state_dim: int,
        grid: tuple[int, int],
        predictor_embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        max_steps: int = 64,
        pool_grid: tuple[int, int] | None = None,
        use_rope: bool = True,
        rope_variant: str = "vjepa2",
        qkv_bias: bool = True,
        extrinsics_dim: int = 0,
        state_head: bool = True,
        normalize_output: bool = False,
        residual: bool = False,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.action_dim = action_dim
        self.state_dim = state_dim
        self.grid = (int(grid[0]), int(grid[1]))
        self.pool_grid = None if pool_grid is None else (int(pool_grid[0]), int(pool_grid[1]))
        if self.pool_grid is not None and (
            self.pool_grid[0] > self.grid[0] or self.pool_grid[1] > self.grid[1]
        ):
            raise ValueError(f"pool_grid={pool_grid} must not exceed grid={grid}")
        self.token_grid = self.pool_grid or self.grid
        self.num_frame_tokens = self.token_grid[0] * self.token_grid[1]
        self.num_cond_tokens = 3 if extrinsics_dim > 0 else 2
        self.tokens_per_step = self.num_cond_tokens + self.num_frame_tokens
        self.max_steps = max_steps
        self.use_rope = use_rope
        self.rope_variant = rope_variant
        self.normalize_output = normalize_output
        self.residual = residual
        self.num_heads = num_heads
        self.head_dim = predictor_embed_dim // num_heads
        self.rope_dim = rope_axis_dim(self.head_dim)  # channels per axis (time, h, w)
        if use_rope and self.rope_dim == 0:
            raise ValueError(f"head_dim={self.head_dim} is too small for 3D RoPE")

        self.predictor_embed = nn.Linear(embed_dim, predictor_embed_dim)
        self.action_encoder = nn.Linear(action_dim, predictor_embed_dim)
        self.state_encoder = nn.Linear(state_dim, predictor_embed_dim)
        self.extrinsics_encoder = (
            nn.Linear(extrinsics_dim, predictor_embed_dim) if extrinsics_dim > 0 else None
        )
        self.predictor_blocks = nn.ModuleList(
            ACBlock(predictor_embed_dim, num_heads, mlp_ratio, qkv_bias) for _ in range(depth)
        )
        self.predictor_norm = nn.LayerNorm(predictor_embed_dim, eps=1e-6)
        self.predictor_proj = nn.Linear(predictor_embed_dim, embed_dim)
        self.state_head = (
            MLP(predictor_embed_dim, predictor_embed_dim, state_dim) if state_head else None
        )
        self._init_weights(init_std)

    def _init_weights(self, std: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            for i, blk in enumerate(self.predictor_blocks):  # depth-scaled residual branches
                blk.attn.proj.weight.div_((2.0 * (i + 1)) ** 0.5)
                blk.mlp.fc2.weight.div_((2.0 * (i + 1)) ** 0.5)
            if self.state_head is not None:  # start as "state unchanged"
                self.state_head.fc2.weight.zero_()

    # ------------------------------------------------------------------ helpers
    def _rope(self, t0: int, num_steps: int, device: torch.device) -> tuple[Tensor, Tensor] | None:
        """cos/sin tables ``(T*L, 3a)`` for steps ``t0 .. t0+T-1`` (fp32)."""
        if not self.use_rope:
            return None
        k, (ph, pw) = self.num_cond_tokens, self.token_grid
        pos = torch.zeros(num_steps, self.tokens_per_step, 3, device=device)  # (T, L, 3)
        pos[..., 0] = torch.arange(t0, t0 + num_steps, device=device)[:, None]
        # Spatial positions in encoder-grid units (both scaled by grid height, as the
        # reference). Conditioning tokens keep height = width = 0: angle 0 leaves those
        # channels unrotated, so they carry time only.
        pos[:, k:, 1] = torch.arange(ph, device=device).repeat_interleave(pw) * (self.grid[0] / ph)
        pos[:, k:, 2] = torch.arange(pw, device=device).repeat(ph) * (self.grid[0] / pw)
        return rope_angles(pos.flatten(0, 1), self.head_dim, variant=self.rope_variant)

    def _frame_tokens(self, z: Tensor, name: str) -> Tensor:
        """Validate ``(B, T, Np, D)`` and pool to the model's token grid if needed."""
        if z.dim() != 4 or z.shape[-1] != self.embed_dim:
            raise ValueError(f"{name} must be (B, T, Np, {self.embed_dim}), got {tuple(z.shape)}")
        n_full = self.grid[0] * self.grid[1]
        if z.shape[2] == self.num_frame_tokens:
            return z
        if z.shape[2] == n_full:
            return pool_tokens(z, self.grid, self.pool_grid)
        raise ValueError(
            f"{name} has {z.shape[2]} tokens per frame, expected {n_full} "
            f"(grid {self.grid}) or {self.num_frame_tokens} (pooled grid {self.token_grid})"
        )

    def _check_cond(self, x: Tensor, name: str, dim: int, b: int, t: int) -> None:
        if x.dim() != 3 or x.shape[2] != dim or x.shape[1] != t or x.shape[0] not in (1, b):
            raise ValueError(f"{name} must be ({b}, {t}, {dim}), got {tuple(x.shape)}")

    def _embed(self, z: Tensor, a: Tensor, s: Tensor, e: Tensor | None) -> Tensor:
        """Tokens of T steps ``(B, T*L, C)`` from pooled frames, actions, states, extrinsics."""
        b, t = z.shape[:2]
        parts = [self.action_encoder(a), self.state_encoder(s)]  # each (B, T, C)
        if self.extrinsics_encoder is not None:
            if e is None:
                raise ValueError("extrinsics are required (extrinsics_dim > 0)")
            parts.append(self.extrinsics_encoder(e))
        cond = torch.stack([p.expand(b, t, -1) for p in parts], dim=2)  # (B, T, K, C)
        x = torch.cat([cond, self.predictor_embed(z)], dim=2)  # (B, T, L, C)
        return x.flatten(1, 2)  # (B, T*L, C)

    def _readout(self, x: Tensor, s: Tensor, z_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Predicted frame tokens ``(B, T, Np', D)`` and states ``(B, T, S)`` from block output.

        ``z_in`` is the (pooled) frame tokens of the same steps, used by ``residual``.
        """
        b = x.shape[0]
        x = self.predictor_norm(x).view(b, -1, self.tokens_per_step, x.shape[-1])  # (B,T,L,C)
        z = self.predictor_proj(x[:, :, self.num_cond_tokens :])  # (B, T, Np', D)
        if self.residual:
            z = z_in + z
        if self.normalize_output:
            z = F.layer_norm(z, (z.shape[-1],))
        s_next = None if self.state_head is None else s + self.state_head(x[:, :, 1])
        return z, s_next

    # ------------------------------------------------------------------ public API
    def forward(
        self,
        z: Tensor,
        actions: Tensor,
        states: Tensor,
        extrinsics: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced prediction of every next step in parallel (block-causal mask).

        Args:
            z: encoder tokens ``(B, T, Np, D)`` (Np = h*w, or already pooled h'*w').
            actions: ``(B, T, A)``: a_t is the action taken after frame t.
            states: ``(B, T, S)`` proprioceptive state at each frame.
            extrinsics: ``(B, T, E)`` when ``extrinsics_dim > 0``.

        Returns:
            ``(z_next (B, T, Np', D), s_next (B, T, S) or None without a state head)``; index t
            is the prediction of step t+1.
        """
        z = self._frame_tokens(z, "z")
        b, t = z.shape[:2]
        if t > self.max_steps:
            raise ValueError(f"z has T={t} steps, max_steps={self.max_steps}")
        self._check_cond(actions, "actions", self.action_dim, b, t)
        self._check_cond(states, "states", self.state_dim, b, t)
        x = self._embed(z, actions, states, extrinsics)
        rope = self._rope(0, t, x.device)
        mask = build_block_causal_mask(t, self.tokens_per_step, x.device)
        for blk in self.predictor_blocks:
            x, _, _ = blk(x, rope, mask)
        return self._readout(x, states.expand(b, t, -1), z)

    def embed(self, tokens: Tensor) -> Tensor:
        """The planning latent of frames is their (pooled) tokens: the identity."""
        return tokens

    def rollout(
        self,
        z_ctx: Tensor,
        s_ctx: Tensor,
        a_ctx: Tensor,
        actions: Tensor,
        *,
        e_ctx: Tensor | None = None,
        use_cache: bool = True,
        state_fn: StateFn | None = None,
        latents: bool = True,
    ) -> tuple[Tensor, Tensor]:
        """Imagine H steps ahead for N candidate action sequences from a shared context.

        Step Tc is ``[a_plan_1, s_Tc, z_Tc]``; each further step feeds back the model's own
        predicted tokens and state with the next planned action. With ``use_cache`` the context
        steps 1..Tc-1 run once (batch 1) and their keys/values are shared by all candidates;
        ``use_cache=False`` re-runs ``forward`` on the growing sequence (reference path).

        Args:
            z_ctx: context frame tokens ``(B, Tc, Np, D)``, B = 1 (or N).
            s_ctx: context states ``(B, Tc, S)``.
            a_ctx: actions taken between context frames ``(B, Tc-1, A)``.
            actions: planned actions ``(N, H, A)``.
            e_ctx: context extrinsics ``(B, Tc, E)`` if the model uses them; the last one is
                held fixed over the plan.
            use_cache: use the KV-cached path.
            state_fn: ``f(s (N, S), a (N, A)) -> s_next (N, S)`` replacing the learned state
                head (required when the model has none, e.g. an official checkpoint).
            latents: the :class:`vworld.world_model.Predictor` flag; this model reads its
                states from the predicted tokens, so it always predicts and returns them.

        Returns:
            ``(z (N, H, Np', D), s (N, H, S))``: predictions of steps Tc+1 .. Tc+H.
        """
        z_ctx = self._frame_tokens(z_ctx, "z_ctx")
        b, tc = z_ctx.shape[:2]
        if actions.dim() != 3 or actions.shape[2] != self.action_dim:
            raise ValueError(
                f"actions must be (N, H, {self.action_dim}), got {tuple(actions.shape)}"
            )
        n, horizon = actions.shape[:2]
        if b not in (1, n):
            raise ValueError(f"z_ctx batch must be 1 or N={n}, got {b}")
        self._check_cond(s_ctx, "s_ctx", self.state_dim, b, tc)
        if a_ctx.dim() != 3 or a_ctx.shape[1] != tc - 1 or a_ctx.shape[2] != self.action_dim:
            raise ValueError(
                f"a_ctx must be ({b}, {tc - 1}, {self.action_dim}), got {tuple(a_ctx.shape)}"
            )
        if tc + horizon - 1 > self.max_steps:
            raise ValueError(
                f"Tc + H - 1 = {tc + horizon - 1} steps exceed max_steps={self.max_steps}"
            )
        if self.state_head is None and state_fn is None:
            raise ValueError("the model has no state head; pass state_fn to rollout")
        if use_cache:
            return rollout_cached(self, z_ctx, s_ctx, a_ctx, actions, e_ctx, state_fn)
        return rollout_uncached(self, z_ctx, s_ctx, a_ctx, actions, e_ctx, state_fn)


# Named architectures. Each is a spec: encoder width, token grid and predictor size.
AC_CONFIGS: dict[str, dict] = {
    # V-JEPA 2-AC: ViT-g encoder (1408 wide), 256px frames with patch 16, DROID 7-d actions/poses.
    "ac_vjepa2": dict(
        embed_dim=1408,
        action_dim=7,
        state_dim=7,
        grid=(16, 16),
        predictor_embed_dim=1024,
        depth=24,
        num_heads=16,
    ),
    # CPU-sized: a 128-wide encoder on 64px frames with patch 8.
    "ac_micro": dict(
        embed_dim=128,
        action_dim=7,
        state_dim=7,
        grid=(8, 8),
        predictor_embed_dim=128,
        depth=4,
        num_heads=4,
    ),
    # For tests.
    "ac_test": dict(
        embed_dim=32,
        action_dim=3,
        state_dim=4,
        grid=(4, 4),
        predictor_embed_dim=48,
        depth=2,
        num_heads=2,
        max_steps=16,
    ),
}


@dataclass
class ACPredictorSettings:
    """The recipe's ``model.*`` settings of the V-JEPA 2-AC transformer (``ac_*`` names);
    None keeps the named architecture's value."""

    # what the trainer fills in from the data and the encoder
    DATA_ARGS: ClassVar[tuple[str, ...]] = (
        "embed_dim",
        "action_dim",
        "state_dim",
        "grid",
        "max_steps",
    )
    predictor_embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    residual: bool | None = None  # predict z_{t+1} - z_t


register_configs(
    ActionConditionedPredictor, AC_CONFIGS, kind="ac_predictor", settings=ACPredictorSettings
)
