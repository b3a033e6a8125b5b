"""A compact-latent world model whose rollouts a planner can rank (LeWM, PLDM, DINO-WM).

The V-JEPA 2-AC transformer (``vworld/models/ac_predictor.py``) predicts every patch token of
the frozen encoder; at small scale it learns to ignore the action. This model follows the
peers that plan well at small scale:

- **A compact per-frame latent** ``z = proj(tokens)`` (LeWM's projected embedding): the
  encoder's (pooled) tokens of one frame go through a small MLP to ``latent_dim`` numbers,
  trained with the predictor, so 300 candidates x 30 iterations stay fast. A regulariser in
  the objective (SIGReg or variance-covariance, ``vworld/train/objectives.py``) keeps it
  from collapsing.
- **Stronger action conditioning** (``action_cond``):
  ``adaln``: the action sets the shift, scale and gate of every block, zero-initialised
  (AdaLN-zero, as in DiT and LeWM); ``concat``: the action embedding is concatenated to the
  input of every block (DINO-WM concatenates it to every frame token); ``input``: the action
  enters once, with the latent and the state, as the V-JEPA 2-AC action token does.
- **The actions of an action block fed together**: with ``train-ac data.action_mode=concat``
  the ``frame_stride`` env-step actions of one model step arrive concatenated (LeWM's
  frameskip encoder), not summed.
- **An inverse-dynamics head** ``a_t = g(z_t, z_{t+1})`` (eb_jepa, PLDM): an auxiliary loss
  that makes the latent keep what the action changes.
- The robot's sensed state is an input and is predicted too (V-JEPA 2-AC's state token).

One step is Markov in ``(z_t, s_t)``: the sensed state carries the velocities a single frame
cannot show. Inputs are normalised by the trainer (``vworld.world_model.Normalizer``); the
state's ``angle_dims`` stay in radians and are wrapped after every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vworld.layers.angles import wrap_angles
from vworld.layers.mlp import MLP
from vworld.models.registry import register_configs

__all__ = ["ACTION_CONDITIONING", "LatentPredictor", "Projector"]

ACTION_CONDITIONING = ("adaln", "concat", "input")


class Projector(nn.Module):
    """One frame's tokens ``(..., Np, D)`` -> a compact latent ``(..., latent_dim)``.

    Args:
        embed_dim: token width D.
        num_tokens: tokens per frame Np (after pooling).
        latent_dim: output size.
        hidden: hidden width.
        norm: ``batch`` ends with a BatchNorm (LeWM's projector), so every latent dim starts
            with unit variance, noise dims too; ``none`` (the default) leaves the spread to
            the regulariser, which lets the latent keep only the few dims the scene needs.
    """

    def __init__(
        self, embed_dim: int, num_tokens: int, latent_dim: int, hidden: int, norm: str = "none"
    ) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError(f"model.proj_norm: {norm!r}, expected batch|none")
        self.num_tokens, self.embed_dim = num_tokens, embed_dim
        self.net = nn.Sequential(
            nn.Linear(num_tokens * embed_dim, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Linear(hidden, latent_dim),
        )
        self.norm = nn.BatchNorm1d(latent_dim) if norm == "batch" else None

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.shape[-2:] != (self.num_tokens, self.embed_dim):
            raise ValueError(
                f"Projector: expected tokens (..., {self.num_tokens}, {self.embed_dim}), "
                f"got {tuple(tokens.shape)}; does data.pool_grid match the world model's?"
            )
        z = self.net(tokens.flatten(-2))  # (..., latent_dim)
        if self.norm is None:
            return z
        return self.norm(z.reshape(-1, z.shape[-1])).reshape(z.shape)


class _Block(nn.Module):
    """Pre-norm residual MLP block; the action conditions it as ``action_cond`` says."""

    def __init__(self, dim: int, cond_dim: int, mlp_ratio: float, action_cond: str) -> None:
        super().__init__()
        self.action_cond = action_cond
        hidden = int(dim * mlp_ratio)
        if action_cond == "adaln":
            self.norm = nn.LayerNorm(dim, elementwise_affine=False)
            self.mlp = MLP(dim, hidden, dim)
            self.mod = nn.Linear(cond_dim, 3 * dim)  # shift, scale, gate
            nn.init.zeros_(self.mod.weight)
            nn.init.zeros_(self.mod.bias)
        else:
            self.norm = nn.LayerNorm(dim)
            extra = cond_dim if action_cond == "concat" else 0
            self.mlp = MLP(dim + extra, hidden, dim)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        if self.action_cond == "adaln":
            shift, scale, gate = self.mod(F.silu(c)).chunk(3, dim=-1)
            return x + gate * self.mlp(self.norm(x) * (1 + scale) + shift)
        h = self.norm(x)
        if self.action_cond == "concat":
            h = torch.cat([h, c], dim=-1)
        return x + self.mlp(h)


class LatentPredictor(nn.Module):
    """Projector, action-conditioned latent dynamics, state head and inverse-dynamics head.

    Args:
        embed_dim: width D of the encoder's tokens.
        action_dim: size of one model step's action (``frame_stride * A`` for concatenated
            action blocks).
        state_dim: sensed state size S (0: no state).
        grid: the (pooled) token grid ``(h, w)`` the projector reads.
        latent_dim: size of the compact latent.
        proj_hidden: hidden width of the projector.
        proj_norm: the projector's output norm, ``batch`` or ``none`` (:class:`Projector`).
        predictor_embed_dim: width of the dynamics network.
        depth: residual blocks of the dynamics network.
        mlp_ratio: hidden width of a block over its width.
        action_cond: ``adaln``, ``concat`` or ``input`` (see the module docstring).
        action_embed_dim: width of the action embedding.
        residual: predict ``z_{t+1} - z_t`` instead of ``z_{t+1}``.
        inverse_hidden: hidden width of the inverse-dynamics head (0: no head).
        angle_dims: state indices that are angles (radians), wrapped after every step.
    """

    learned_latent = True

    def __init__(
        self,
        embed_dim: int,
        action_dim: int,
        state_dim: int,
        grid: tuple[int, int],
        latent_dim: int = 64,
        proj_hidden: int = 512,
        proj_norm: str = "none",
        predictor_embed_dim: int = 256,
        depth: int = 3,
        mlp_ratio: float = 2.0,
        action_cond: str = "adaln",
        action_embed_dim: int = 64,
        residual: bool = True,
        inverse_hidden: int = 256,
        angle_dims: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if action_cond not in ACTION_CONDITIONING:
            raise ValueError(
                f"model.action_cond: {action_cond!r}, expected one of {ACTION_CONDITIONING}"
            )
        if depth < 1:
            raise ValueError(f"model.depth: expected >= 1, got {depth}")
        self.embed_dim, self.action_dim, self.state_dim = embed_dim, action_dim, state_dim
        self.grid = tuple(grid)
        self.latent_dim, self.action_cond, self.residual = latent_dim, action_cond, residual
        self.angle_dims = list(angle_dims)
        self.projector = Projector(embed_dim, grid[0] * grid[1], latent_dim, proj_hidden, proj_norm)
        width = predictor_embed_dim
        self.action_embed = nn.Sequential(
            nn.Linear(action_dim, action_embed_dim),
            nn.SiLU(),
            nn.Linear(action_embed_dim, action_embed_dim),
        )
        din = latent_dim + state_dim + (action_embed_dim if action_cond == "input" else 0)
        self.inp = nn.Linear(din, width)
        self.blocks = nn.ModuleList(
            _Block(width, action_embed_dim, mlp_ratio, action_cond) for _ in range(depth)
        )
        self.out_norm = nn.LayerNorm(width)
        self.z_head = nn.Linear(width, latent_dim)
        self.s_head = nn.Linear(width, state_dim) if state_dim else None
        self.inverse_head = (
            nn.Sequential(
                nn.Linear(2 * latent_dim, inverse_hidden),
                nn.GELU(),
                nn.Linear(inverse_hidden, inverse_hidden),
                nn.GELU(),
                nn.Linear(inverse_hidden, action_dim),
            )
            if inverse_hidden > 0
            else None
        )
        if residual:  # start from "nothing changes", as the copy-last baseline
            nn.init.zeros_(self.z_head.weight)
            nn.init.zeros_(self.z_head.bias)

    # ------------------------------------------------------------------ the verbs
    def embed(self, tokens: Tensor) -> Tensor:
        """Encoder tokens ``(..., Np, D)`` -> latents ``(..., latent_dim)``."""
        return self.projector(tokens)

    def step(self, z: Tensor, s: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
        """One model step: ``z (..., d)``, ``s (..., S)``, ``a (..., A)`` -> ``(z', s')``."""
        c = self.action_embed(a)
        parts = [z, s] if self.state_dim else [z]
        if self.action_cond == "input":
            parts.append(c)
        x = self.inp(torch.cat(parts, dim=-1))
        for blk in self.blocks:
            x = blk(x, c)
        x = self.out_norm(x)
        dz = self.z_head(x)
        z_next = z + dz if self.residual else dz
        if self.s_head is None:
            return z_next, s
        return z_next, wrap_angles(s + self.s_head(x), self.angle_dims)

    def inverse(self, z: Tensor, z_next: Tensor) -> Tensor:
        """The action that led from ``z`` to ``z_next`` (normalised units)."""
        if self.inverse_head is None:
            raise RuntimeError(
                "this LatentPredictor has no inverse-dynamics head (inverse_hidden=0)"
            )
        return self.inverse_head(torch.cat([z, z_next], dim=-1))

    def forward(self, z: Tensor, actions: Tensor, states: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced next-step predictions.

        Args:
            z: latents ``(B, T, d)``; actions ``(B, T, A)``; states ``(B, T, S)``.
        Returns:
            ``(z_next (B, T, d), s_next (B, T, S))``: index t predicts step t+1.
        """
        self._check(z, actions, states)
        return self.step(z, states, actions)

    def rollout(
        self,
        z_ctx: Tensor,
        s_ctx: Tensor,
        a_ctx: Tensor,
        actions: Tensor,
        *,
        use_cache: bool = True,
        latents: bool = True,
    ) -> tuple[Tensor, Tensor]:
        """Imagine ``H`` steps for ``N`` candidate action sequences from the last context step.

        Args:
            z_ctx: ``(B, Tc, d)`` with B = 1 or N; s_ctx: ``(B, Tc, S)``.
            a_ctx: actions between context frames (unused: one step is Markov).
            actions: ``(N, H, A)``.
            use_cache, latents: part of the predictor interface; latents are always
                predicted, because the states depend on them.
        Returns:
            ``(z (N, H, d), s (N, H, S))``.
        """
        if actions.dim() != 3 or actions.shape[-1] != self.action_dim:
            raise ValueError(
                f"actions must be (N, H, {self.action_dim}), got {tuple(actions.shape)}"
            )
        n, horizon = actions.shape[:2]
        z = z_ctx[:, -1].expand(n, -1)
        s = s_ctx[:, -1].expand(n, -1)
        zs, ss = [], []
        for h in range(horizon):
            z, s = self.step(z, s, actions[:, h])
            zs.append(z)
            ss.append(s)
        return torch.stack(zs, 1), torch.stack(ss, 1)

    def _check(self, z: Tensor, a: Tensor, s: Tensor) -> None:
        if z.dim() != 3 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must be (B, T, {self.latent_dim}) latents, got {tuple(z.shape)}")
        for name, x, dim in (("actions", a, self.action_dim), ("states", s, self.state_dim)):
            if x.shape[:2] != z.shape[:2] or x.shape[-1] != dim:
                raise ValueError(f"{name} must be {(*z.shape[:2], dim)}, got {tuple(x.shape)}")


# Named architectures: latent size, widths, conditioning.
LATENT_CONFIGS: dict[str, dict] = {
    # CPU-sized: the tiny encoder's 128-wide tokens pooled to 4x4, a 64-d latent.
    "latent_micro": dict(
        embed_dim=128,
        action_dim=10,
        state_dim=4,
        grid=(4, 4),
        latent_dim=64,
        proj_hidden=512,
        predictor_embed_dim=256,
        depth=3,
    ),
    # For tests.
    "latent_test": dict(
        embed_dim=32,
        action_dim=3,
        state_dim=4,
        grid=(2, 2),
        latent_dim=8,
        proj_hidden=32,
        predictor_embed_dim=32,
        depth=2,
        action_embed_dim=16,
        inverse_hidden=32,
    ),
}


@dataclass
class LatentPredictorSettings:
    """The recipe's ``model.*`` settings of a ``latent_*`` predictor; None keeps the named
    architecture's value."""

    # what the trainer fills in from the data and the encoder
    DATA_ARGS: ClassVar[tuple[str, ...]] = (
        "embed_dim",
        "action_dim",
        "state_dim",
        "grid",
        "angle_dims",
    )
    predictor_embed_dim: int | None = None
    depth: int | None = None
    residual: bool | None = None  # predict z_{t+1} - z_t
    latent_dim: int | None = None
    action_cond: str | None = None  # adaln | concat | input
    proj_hidden: int | None = None
    proj_norm: str | None = None  # batch | none
    inverse_hidden: int | None = None  # 0: no inverse-dynamics head


register_configs(
    LatentPredictor, LATENT_CONFIGS, kind="ac_predictor", settings=LatentPredictorSettings
)
