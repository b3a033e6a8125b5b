"""The state probe: frame tokens -> the state dims a frame shows."""

from __future__ import annotations

import math

import pytest
import torch

from vworld.models.state_probe import StateProbe


def test_targets_decode_roundtrip_with_angles_and_scaled_dims():
    probe = StateProbe(4, 8, state_dim=3, dims=[0, 2], angle_dims=[0])
    s = torch.tensor([[3.0, 9.0, 10.0], [-3.1, 0.0, 30.0], [0.5, 1.0, 20.0]])
    probe.set_stats(torch.randn(3, 4, 8), s)
    assert probe.s_mean.tolist() == [0.0, 20.0]  # angles keep mean 0 / std 1
    y = probe.targets(s)
    assert y.shape == (3, 3)  # (sin, cos) for the angle, one z-score for dim 2
    back = probe.decode(y)
    assert torch.allclose(back, s[:, [0, 2]], atol=1e-5)
    assert probe.angle_dims == [0]


def test_probe_learns_a_state_from_its_tokens_across_the_wrap():
    """Tokens are a fixed random function of (cos q, sin q, x): the probe must read q back,
    including angles on both sides of +-pi where a plain regression would be torn apart."""
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(3, 4 * 8, generator=g)

    def sample(n):
        q = (torch.rand(n, generator=g) * 2 - 1) * math.pi
        x = torch.rand(n, generator=g) * 4 - 2
        feats = torch.stack([torch.cos(q), torch.sin(q), x], 1)
        return torch.tanh(feats @ mix).reshape(n, 4, 8), torch.stack([q, x], 1)

    z, s = sample(2048)
    torch.manual_seed(0)
    probe = StateProbe(4, 8, state_dim=2, angle_dims=[0], hidden=64, depth=2)
    probe.set_stats(z, s)
    opt = torch.optim.Adam(probe.parameters(), 3e-3)
    for _ in range(400):
        idx = torch.randint(0, len(z), (256,))
        loss = probe.loss(z[idx], s[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    zt, st = sample(256)
    est = probe.infer(zt)
    err_q = torch.remainder(est[:, 0] - st[:, 0] + math.pi, 2 * math.pi) - math.pi
    assert err_q.abs().median() < 0.1
    assert (est[:, 1] - st[:, 1]).abs().median() < 0.1
    near_wrap = st[:, 0].abs() > 3.0
    assert near_wrap.any() and err_q[near_wrap].abs().max() < 0.5


def test_probe_errors_name_the_field():
    with pytest.raises(ValueError, match="dims"):
        StateProbe(4, 8, state_dim=2, dims=[0, 2])
    with pytest.raises(ValueError, match="dims"):
        StateProbe(4, 8, state_dim=2, dims=[0, 0])
    with pytest.raises(ValueError, match="depth"):
        StateProbe(4, 8, state_dim=2, depth=0)
    with pytest.raises(ValueError, match=r"tokens must be \(\.\.\., 4, 8\)"):
        StateProbe(4, 8, state_dim=2)(torch.zeros(2, 5, 8))
