"""The proprioception-grounded latent predictor: shapes, wrapping, rollouts, and that it learns."""

import math

import pytest
import torch

from vworld.models import ProprioLatentPredictor, build_ac_predictor, list_models


def _model(**kw) -> ProprioLatentPredictor:
    torch.manual_seed(0)
    return build_ac_predictor("proprio_test", angle_dims=[0], **kw)


def test_registered_and_shapes():
    assert {"proprio_micro", "proprio_test"} <= set(list_models("ac_predictor"))
    m = _model()
    z = torch.randn(2, 3, 16, 32)
    s = torch.randn(2, 3, 4)
    a = torch.randn(2, 3, 3)
    z_next, s_next = m(z, a, s)
    assert z_next.shape == (2, 3, 16, 32) and s_next.shape == (2, 3, 4)
    zr, sr = m.rollout(z[:1, :1], s[:1, :1], a[:1, :0], torch.randn(5, 4, 3))
    assert zr.shape == (5, 4, 16, 32) and sr.shape == (5, 4, 4)


def test_starts_as_state_unchanged_and_wraps_angles():
    m = _model()
    s = torch.tensor([[[math.pi - 0.01, 0.5, 0.0, 0.0]]])
    _, s_next = m(torch.zeros(1, 1, 16, 32), torch.zeros(1, 1, 3), s)
    torch.testing.assert_close(s_next, s)  # zero-initialised last layer: no change yet
    with torch.no_grad():
        m.dynamics[-1].bias.copy_(torch.tensor([0.02, 0.1, 0.0, 0.0]))
    _, s_next = m(torch.zeros(1, 1, 16, 32), torch.zeros(1, 1, 3), s)
    assert s_next[0, 0, 0].item() == pytest.approx(-math.pi + 0.01, abs=1e-5)  # wrapped
    assert s_next[0, 0, 1].item() == pytest.approx(0.6, abs=1e-6)  # not an angle: as is


def test_rollout_matches_stepping_and_uses_state_fn():
    m = _model()
    with torch.no_grad():
        m.dynamics[-1].weight.normal_(0, 0.1)
    s0 = torch.randn(1, 1, 4)
    acts = torch.randn(6, 3, 3)
    zr, sr = m.rollout(torch.zeros(1, 1, 16, 32), s0, torch.zeros(1, 0, 3), acts)
    s = s0[:, 0].expand(6, -1)
    for j in range(3):
        s = m.step_state(s, acts[:, j])
        torch.testing.assert_close(sr[:, j], s)
        torch.testing.assert_close(zr[:, j], m.decode(s))
    # different actions give different futures
    assert (sr[0] - sr[1]).abs().max() > 1e-4
    # a simulator can replace the learned dynamics
    _, s_sim = m.rollout(
        torch.zeros(1, 1, 16, 32), s0, torch.zeros(1, 0, 3), acts, state_fn=lambda s, a: s + 1
    )
    torch.testing.assert_close(s_sim[:, -1], s0[:, 0].expand(6, -1) + 3)
    # a state-only cost can skip the latent decoder: same states, no latents
    z_none, s_only = m.rollout(
        torch.zeros(1, 1, 16, 32), s0, torch.zeros(1, 0, 3), acts, latents=False
    )
    assert z_none is None
    torch.testing.assert_close(s_only, sr)


def test_bad_inputs_name_the_field():
    m = _model()
    with pytest.raises(ValueError, match="z must be"):
        m(torch.zeros(1, 1, 9, 32), torch.zeros(1, 1, 3), torch.zeros(1, 1, 4))
    with pytest.raises(ValueError, match="actions must be"):
        m.rollout(
            torch.zeros(1, 1, 16, 32),
            torch.zeros(1, 1, 4),
            torch.zeros(1, 0, 3),
            torch.zeros(2, 3, 2),
        )
    with pytest.raises(ValueError, match="angle_dims"):
        build_ac_predictor("proprio_test", angle_dims=[7])


def test_learns_a_wrapped_rotation_and_its_image():
    """s' = wrap(s + a) for an angle; the 'image' is (cos s, sin s) painted on the tokens."""
    torch.manual_seed(0)
    m = build_ac_predictor(
        "proprio_test",
        action_dim=1,
        state_dim=1,
        embed_dim=2,
        grid=(1, 1),
        angle_dims=[0],
        predictor_embed_dim=64,
        depth=2,
        dynamics_dim=64,
        dynamics_depth=2,
    )
    opt = torch.optim.Adam(m.parameters(), 3e-3)

    def batch(n):
        s = torch.rand(n, 1, 1) * 2 * math.pi - math.pi
        a = torch.rand(n, 1, 1) - 0.5
        s1 = torch.remainder(s + a + math.pi, 2 * math.pi) - math.pi
        z1 = torch.stack([torch.cos(s1), torch.sin(s1)], -1)  # (n, 1, 1, 2)
        return s, a, s1, z1

    def err(n=512):
        s, a, s1, z1 = batch(n)
        zp, sp = m(torch.zeros(n, 1, 1, 2), a, s)
        ds = torch.remainder(sp - s1 + math.pi, 2 * math.pi) - math.pi
        return ds.abs().mean(), (zp - z1).abs().mean()

    with torch.no_grad():
        s_err0, z_err0 = err()
    for _ in range(400):
        s_err, z_err = err(128)
        opt.zero_grad()
        (s_err + z_err).backward()
        opt.step()
    with torch.no_grad():
        s_err, z_err = err()
    assert s_err < 0.2 * s_err0 and z_err < 0.2 * z_err0, (s_err0, s_err, z_err0, z_err)
