"""A tiny stand-in world model for the planning harness tests (the real one is the lead's)."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from vworld.models.ac_predictors import build_ac_predictor
from vworld.models.registry import create_model
from vworld.world_model import JEPAWorldModel


class TinyWorldModel(torch.nn.Module):
    """encode: 4x4 average-pooled pixels as 16 tokens of 3 channels; rollout: a random
    residual map of the actions. Enough to exercise shapes, costs and the control loop."""

    frame_stride = 5
    state_dims: ClassVar[list[int]] = [0, 1]  # what read_state estimates
    angle_dims: ClassVar[list[int]] = [0]
    frame_codec = None
    sim_state_dims: ClassVar[list[int]] = []

    def __init__(self, action_dim: int = 2, state_dim: int = 4) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.act_to_z = torch.nn.Parameter(torch.randn(action_dim, 16 * 3, generator=g) * 0.05)
        self.act_to_s = torch.nn.Parameter(torch.randn(action_dim, state_dim, generator=g) * 0.1)

    def encode(self, frames: Tensor) -> Tensor:
        b, t, c, h, w = frames.shape
        x = frames.reshape(b * t, c, h, w).float() / 255.0
        x = F.adaptive_avg_pool2d(x, 4)  # (B*T, C, 4, 4)
        return x.flatten(2).transpose(1, 2).reshape(b, t, 16, c)  # (B, T, tokens, C)

    def observed_state(self, frames: Tensor, proprio: Tensor) -> Tensor:
        return proprio

    def read_state(self, frames: Tensor) -> Tensor:
        """A stand-in state probe: two fixed averages of the 2x2-pooled pixels, ``(B, T, 2)``
        (another grid than ``encode``'s, as a real probe may read)."""
        b, t, c, h, w = frames.shape
        x = F.adaptive_avg_pool2d(frames.reshape(b * t, c, h, w).float() / 255.0, 2)
        return torch.stack([x[:, 0, 0].mean(-1), x[:, 1, 1].mean(-1)], -1).reshape(b, t, 2)

    def rollout(
        self, z_context: Tensor, s_context: Tensor, actions: Tensor, latents: bool = True
    ) -> tuple[Tensor | None, Tensor]:
        n, horizon, _ = actions.shape
        z = z_context[:, -1].expand(n, -1, -1)  # (N, tokens, C)
        s = s_context[:, -1].expand(n, -1)  # (N, S)
        zs, ss = [], []
        for h in range(horizon):
            z = z + torch.tanh(actions[:, h] @ self.act_to_z).reshape(n, 16, 3)
            s = s + actions[:, h] @ self.act_to_s
            zs.append(z)
            ss.append(s)
        z_all = torch.stack(zs, 1) if latents else None  # (N, H, tokens, C)
        return z_all, torch.stack(ss, 1)  # (N, H, S)


class TinyWorldModelWithObject(TinyWorldModel):
    """A world model whose state goes on past the robot's 4 sensed dims (``train-ac
    data.sim_state_dims``): one object dim its probe reads from the image. ``seen`` keeps the
    context state of every rollout (dynamics run on the first 4 dims)."""

    sim_state_dims: ClassVar[list[int]] = [4]

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Tensor] = []

    def observed_state(self, frames: Tensor, proprio: Tensor) -> Tensor:
        return torch.cat([proprio, self.read_state(frames)[..., 1:]], -1)

    def rollout(
        self, z_context: Tensor, s_context: Tensor, actions: Tensor, latents: bool = True
    ) -> tuple[Tensor | None, Tensor]:
        self.seen.append(s_context.clone())
        return super().rollout(z_context, s_context[..., :4], actions, latents)


@pytest.fixture
def tiny_world_model() -> TinyWorldModel:
    return TinyWorldModel()


@pytest.fixture
def tiny_world_model_with_object() -> TinyWorldModelWithObject:
    return TinyWorldModelWithObject()


def _tiny_jepa(action_cond: str = "input") -> JEPAWorldModel:
    """An untrained real world model (2x2-pooled tokens of a test ViT, a compact-latent
    predictor) whose step is 5 env steps of 2-d actions fed concatenated
    (``action_mode=concat``). Without the residual head's zero init, only AdaLN-zero's gates
    keep the action out of the prediction."""
    torch.manual_seed(0)
    encoder = create_model("vit_test", img_size=64, num_frames=2)
    kwargs = dict(
        embed_dim=48,
        action_dim=10,
        state_dim=4,
        grid=(2, 2),
        action_cond=action_cond,
        residual=False,
    )
    predictor = build_ac_predictor("latent_test", **kwargs)
    stats = {
        "action_mean": [0.0] * 10,
        "action_std": [1.0] * 10,
        "state_mean": [0.0] * 4,
        "state_std": [1.0] * 4,
    }
    return JEPAWorldModel(
        encoder,
        predictor,
        ("latent_test", kwargs),
        {"model": "vit_test", "kwargs": {"img_size": 64, "num_frames": 2}},
        stats,
        (64, 64),
        (8, 8),
        (2, 2),
        frame_stride=5,
        action_mode="concat",
    )


@pytest.fixture
def tiny_jepa():
    """Builds :func:`_tiny_jepa` models: ``tiny_jepa("adaln")``."""
    return _tiny_jepa
