"""A proprioception-grounded latent world model: state dynamics, then the latent of the state.

An alternative to the V-JEPA 2-AC transformer (``vworld/models/ac_predictor.py``) for small
robots, small data and small compute. It factors one model step into two small MLPs:

- dynamics: ``s_{t+1} = s_t + f(phi(s_t), a_t)``, with angles (``angle_dims``) wrapped to
  [-pi, pi) after the update;
- latent decoder: ``z_{t+1} = g(phi(s_{t+1}))``, the frozen encoder's (pooled) frame tokens of
  the predicted state.

``phi`` adds Fourier features ``sin(k s), cos(k s)`` (integer ``k``) to the state, which makes
wrapped joint angles continuous across the wrap and lets an MLP fit the sharp map from a
configuration to its image features. The planner's interface is unchanged: the model returns
frame tokens for every imagined step, so costs compare them with the goal image's tokens.

Why it exists: with small data and a few CPU minutes, the transformer's predictions can barely
change across candidate actions, leaving the planner nothing to rank; this factorisation makes
the action's effect on the state explicit. Its limit: everything the decoder
shows must follow from the state, so it suits scenes the robot alone changes (Reach,
PointMaze); for scenes with objects (Push), ``train-ac data.sim_state_dims`` adds the object's
pose to the state, and the state probe reads it from images when planning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from vworld.layers.angles import wrap_angles
from vworld.layers.mlp import mlp_stack
from vworld.models.registry import register_configs


class ProprioLatentPredictor(nn.Module):
    """Predict the next proprioceptive state, then the frame tokens of that state.

    Inputs are normalised by the trainer (``vworld.world_model.Normalizer``), except the
    ``angle_dims`` of the state, which stay in radians (mean 0, std 1 in the statistics).

    Args:
        embed_dim: width D of the frozen encoder's tokens.
        action_dim: action size A.
        state_dim: proprioceptive state size S.
        grid: the (pooled) token grid ``(h, w)`` of one frame; outputs have ``h*w`` tokens.
        predictor_embed_dim: hidden width of the latent decoder.
        depth: hidden layers of the latent decoder.
        dynamics_dim: hidden width of the dynamics MLP.
        dynamics_depth: hidden layers of the dynamics MLP.
        frequencies: integer multipliers of the Fourier features of the state.
        angle_dims: state indices holding angles wrapped to [-pi, pi).
    """

    learned_latent = False  # predicts the encoder's own tokens (no projector)

    def __init__(
        self,
        embed_dim: int,
        action_dim: int,
        state_dim: int,
        grid: tuple[int, int],
        predictor_embed_dim: int = 512,
        depth: int = 3,
        dynamics_dim: int = 256,
        dynamics_depth: int = 3,
        frequencies: Sequence[float] = (1.0, 2.0, 4.0),
        angle_dims: Sequence[int] = (),
    ) -> None:
        super().__init__()
        bad = [d for d in angle_dims if not 0 <= int(d) < state_dim]
        if bad:
            raise ValueError(f"angle_dims {bad} out of range for state_dim={state_dim}")
        self.embed_dim, self.action_dim, self.state_dim = embed_dim, action_dim, state_dim
        self.grid = self.token_grid = (int(grid[0]), int(grid[1]))
        self.num_frame_tokens = self.grid[0] * self.grid[1]
        self.angle_dims = [int(d) for d in angle_dims]
        self.register_buffer(
            "frequencies", torch.tensor([float(f) for f in frequencies]), persistent=False
        )
        feat = state_dim * (1 + 2 * len(frequencies))
        self.dynamics = mlp_stack(feat + action_dim, dynamics_dim, state_dim, dynamics_depth)
        self.decoder = mlp_stack(
            feat, predictor_embed_dim, self.num_frame_tokens * embed_dim, depth
        )
        with torch.no_grad():  # start as "state unchanged"
            self.dynamics[-1].weight.zero_()
            self.dynamics[-1].bias.zero_()

    # ------------------------------------------------------------------ parts
    def features(self, s: Tensor) -> Tensor:
        """``[s, sin(k s), cos(k s)]`` for each frequency k: ``(..., S * (1 + 2K))``."""
        x = (s[..., None] * self.frequencies).flatten(-2)
        return torch.cat([s, torch.sin(x), torch.cos(x)], dim=-1)

    def wrap(self, s: Tensor) -> Tensor:
        """Wrap the angle dims of ``s`` to [-pi, pi)."""
        return wrap_angles(s, self.angle_dims)

    def step_state(self, s: Tensor, a: Tensor) -> Tensor:
        """One dynamics step ``(..., S), (..., A) -> (..., S)``."""
        return self.wrap(s + self.dynamics(torch.cat([self.features(s), a], dim=-1)))

    def decode(self, s: Tensor) -> Tensor:
        """Frame tokens of a state: ``(..., S) -> (..., Np, D)``."""
        z = self.decoder(self.features(s))
        return z.unflatten(-1, (self.num_frame_tokens, self.embed_dim))

    # ------------------------------------------------------------------ interface
    def embed(self, tokens: Tensor) -> Tensor:
        """The planning latent of frames is their (pooled) tokens: the identity."""
        return tokens

    def forward(self, z: Tensor, actions: Tensor, states: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher-forced next step for every step: index t predicts step t+1.

        Args:
            z: ``(B, T, Np, D)`` frame tokens (only checked: the state carries the scene).
            actions: ``(B, T, A)``; states: ``(B, T, S)``.
        Returns:
            ``(z_next (B, T, Np, D), s_next (B, T, S))``.
        """
        self._check(z, actions, states)
        s_next = self.step_state(states.expand(actions.shape[0], -1, -1), actions)
        return self.decode(s_next), s_next

    def rollout(
        self,
        z_ctx: Tensor,
        s_ctx: Tensor,
        a_ctx: Tensor,
        actions: Tensor,
        *,
        e_ctx: Tensor | None = None,
        use_cache: bool = True,
        state_fn=None,
        latents: bool = True,
    ) -> tuple[Tensor | None, Tensor]:
        """Imagine ``H`` steps for ``N`` action sequences from the last context state.

        Args:
            z_ctx: ``(B, Tc, Np, D)``; s_ctx: ``(B, Tc, S)``; a_ctx: ``(B, Tc-1, A)`` (the
                dynamics are Markov in the state, so only ``s_ctx[:, -1]`` is used).
            actions: ``(N, H, A)``.
            state_fn: ``f(s, a) -> s_next`` replacing the learned dynamics (e.g. a simulator).
            latents: False skips the latent decoder (most of a rollout's time) and returns
                ``None`` for ``z``, for costs on the states alone.
        Returns:
            ``(z (N, H, Np, D), s (N, H, S))``.
        """
        if actions.dim() != 3 or actions.shape[2] != self.action_dim:
            raise ValueError(
                f"actions must be (N, H, {self.action_dim}), got {tuple(actions.shape)}"
            )
        self._check(z_ctx, a_ctx, s_ctx, t_actions=z_ctx.shape[1] - 1)
        n, horizon = actions.shape[:2]
        if s_ctx.shape[0] not in (1, n):
            raise ValueError(f"s_ctx batch must be 1 or N={n}, got {s_ctx.shape[0]}")
        s = s_ctx[:, -1].expand(n, -1)
        states = []
        for j in range(horizon):
            a = actions[:, j]
            s = self.step_state(s, a) if state_fn is None else state_fn(s, a)
            states.append(s)
        s_all = torch.stack(states, dim=1)  # (N, H, S)
        return (self.decode(s_all) if latents else None), s_all

    def _check(self, z: Tensor, a: Tensor, s: Tensor, t_actions: int | None = None) -> None:
        if z.dim() != 4 or z.shape[2:] != (self.num_frame_tokens, self.embed_dim):
            raise ValueError(
                f"z must be (B, T, {self.num_frame_tokens}, {self.embed_dim}) "
                f"(grid {self.grid}), got {tuple(z.shape)}"
            )
        t = z.shape[1]
        t_a = t if t_actions is None else t_actions
        if a.dim() != 3 or a.shape[1:] != (t_a, self.action_dim):
            raise ValueError(f"actions must be (B, {t_a}, {self.action_dim}), got {tuple(a.shape)}")
        if s.dim() != 3 or s.shape[1:] != (t, self.state_dim):
            raise ValueError(f"states must be (B, {t}, {self.state_dim}), got {tuple(s.shape)}")


PROPRIO_CONFIGS: dict[str, dict] = {
    # CPU-sized, for a 128-wide encoder pooled to 4x4 tokens (vworld/Reach-v0's recipe).
    "proprio_micro": dict(
        embed_dim=128,
        action_dim=2,
        state_dim=4,
        grid=(4, 4),
        predictor_embed_dim=512,
        depth=3,
        dynamics_dim=256,
        dynamics_depth=3,
    ),
    # For tests.
    "proprio_test": dict(
        embed_dim=32,
        action_dim=3,
        state_dim=4,
        grid=(4, 4),
        predictor_embed_dim=32,
        depth=1,
        dynamics_dim=32,
        dynamics_depth=1,
    ),
}


@dataclass
class ProprioPredictorSettings:
    """The recipe's ``model.*`` settings of a ``proprio_*`` predictor; None keeps the named
    architecture's value."""

    # what the trainer fills in from the data and the encoder
    DATA_ARGS: ClassVar[tuple[str, ...]] = (
        "embed_dim",
        "action_dim",
        "state_dim",
        "grid",
        "angle_dims",
    )
    predictor_embed_dim: int | None = None  # latent decoder width
    depth: int | None = None  # latent decoder hidden layers
    dynamics_dim: int | None = None
    dynamics_depth: int | None = None


register_configs(
    ProprioLatentPredictor, PROPRIO_CONFIGS, kind="ac_predictor", settings=ProprioPredictorSettings
)
