"""A state probe: read the proprioceptive state a frame shows from its encoder tokens.

Planning toward a goal *image* with a world model that predicts states as well as latents
(``vworld/models/proprio_predictor.py``, or the V-JEPA 2-AC transformer's state head) can
compare predicted states with the goal's state, but only the goal's image is given. The probe
closes the gap: an MLP over the frozen encoder's (pooled) tokens of one frame, trained by
``vworld train-ac`` on the robot log's (frame, state) pairs, estimates the goal image's state;
the planner's cost then measures the distance of each predicted state to that estimate.
The goal stays an image: no simulator state reaches the planner.

Only what one frame shows can be probed (joint angles, positions), not velocities, so the
probe covers chosen state ``dims``. Angles (``angle_dims``) are regressed as ``(sin, cos)``
and read back with ``atan2``, so the wrap at +-pi costs nothing; other dims are z-scored
with statistics the probe stores, so the module is self-contained.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from vworld.layers.mlp import mlp_stack

__all__ = ["StateProbe"]


class StateProbe(nn.Module):
    """MLP from one frame's tokens ``(..., Np, D)`` to state dims ``(..., K)`` in env units.

    Args:
        num_tokens: tokens per frame ``Np`` (after any pooling).
        embed_dim: token width ``D``.
        state_dim: size of the full state the dims index into.
        dims: state indices to estimate (default: all).
        angle_dims: state indices holding angles in radians (must be among ``dims`` to matter).
        hidden: hidden width.
        depth: hidden layers.
    """

    def __init__(
        self,
        num_tokens: int,
        embed_dim: int,
        state_dim: int,
        dims: Sequence[int] | None = None,
        angle_dims: Sequence[int] = (),
        hidden: int = 512,
        depth: int = 2,
    ) -> None:
        super().__init__()
        dims = list(range(state_dim)) if dims is None else [int(d) for d in dims]
        bad = [d for d in [*dims, *angle_dims] if not 0 <= int(d) < state_dim]
        if bad or not dims or len(set(dims)) != len(dims):
            raise ValueError(
                f"dims {dims} / angle_dims {list(angle_dims)} must be distinct indices "
                f"in [0, {state_dim})"
            )
        self.num_tokens, self.embed_dim, self.state_dim = num_tokens, embed_dim, state_dim
        self.dims = dims
        self.is_angle = [d in {int(a) for a in angle_dims} for d in dims]
        n_in = num_tokens * embed_dim
        n_out = sum(2 if a else 1 for a in self.is_angle)
        self.mlp = mlp_stack(n_in, hidden, n_out, depth)
        # Input and target statistics, saved with the weights (set_stats before training).
        self.register_buffer("z_mean", torch.zeros(n_in))
        self.register_buffer("z_std", torch.ones(n_in))
        self.register_buffer("s_mean", torch.zeros(len(dims)))
        self.register_buffer("s_std", torch.ones(len(dims)))

    @property
    def angle_dims(self) -> list[int]:
        """The probed dims that are angles (state indices)."""
        return [d for d, a in zip(self.dims, self.is_angle) if a]

    @torch.no_grad()
    def set_stats(self, z: Tensor, s: Tensor) -> None:
        """Normalisation from sample frames ``z (N, Np, D)`` and their full states ``(N, S)``."""
        zf = self._flat(z).float()
        sd = s[..., self.dims].float()
        self.z_mean.copy_(zf.mean(0))
        self.z_std.copy_(zf.std(0).clamp_min(1e-6))
        self.s_mean.copy_(sd.mean(0))
        self.s_std.copy_(sd.std(0).clamp_min(1e-6))
        angle = torch.tensor(self.is_angle, device=self.s_mean.device)
        self.s_mean[angle], self.s_std[angle] = 0.0, 1.0

    def _flat(self, z: Tensor) -> Tensor:
        if z.shape[-2:] != (self.num_tokens, self.embed_dim):
            raise ValueError(
                f"tokens must be (..., {self.num_tokens}, {self.embed_dim}), got {tuple(z.shape)}"
            )
        return z.flatten(-2)

    def forward(self, z: Tensor) -> Tensor:
        """Raw outputs ``(..., K')``: ``(sin, cos)`` per angle, a z-score per other dim."""
        return self.mlp((self._flat(z).float() - self.z_mean) / self.z_std)

    def targets(self, s: Tensor) -> Tensor:
        """What :meth:`forward` should output for full states ``s (..., S)``."""
        sd = (s[..., self.dims].float() - self.s_mean) / self.s_std
        cols = []
        for i, a in enumerate(self.is_angle):
            x = sd[..., i]
            cols += [torch.sin(x), torch.cos(x)] if a else [x]
        return torch.stack(cols, -1)

    def decode(self, y: Tensor) -> Tensor:
        """Raw outputs -> the probed dims ``(..., K)`` in env units (angles in [-pi, pi])."""
        cols, j = [], 0
        for a in self.is_angle:
            if a:
                cols.append(torch.atan2(y[..., j], y[..., j + 1]))
                j += 2
            else:
                cols.append(y[..., j])
                j += 1
        return torch.stack(cols, -1) * self.s_std + self.s_mean

    def infer(self, z: Tensor) -> Tensor:
        """Estimated state dims ``(..., K)`` (env units) of frames with tokens ``z (..., Np, D)``."""
        return self.decode(self(z))

    def loss(self, z: Tensor, s: Tensor) -> Tensor:
        """L1 between :meth:`forward` and :meth:`targets` (frames ``(..., Np, D)``, states ``(..., S)``)."""
        return (self(z) - self.targets(s)).abs().mean()
