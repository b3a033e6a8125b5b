"""The compact-latent world model: action conditioning, inverse dynamics, rollouts."""

import pytest
import torch

from vworld.models.ac_predictors import build_ac_predictor
from vworld.models.latent_predictor import ACTION_CONDITIONING, LatentPredictor


def _toy(n=256, d=8, a_dim=3, s_dim=4, seed=0):
    """Latents whose next step depends on the action only: z' = z + M a."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(a_dim, d, generator=g)
    z = torch.randn(n, 1, d, generator=g)
    a = torch.randn(n, 1, a_dim, generator=g)
    s = torch.randn(n, 1, s_dim, generator=g)
    return z, a, s, z + a @ m


def _fit(model, z, a, s, z_next, steps=150):
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        zp, _ = model(z, a, s)
        loss = (zp - z_next).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


@pytest.mark.parametrize("cond", ACTION_CONDITIONING)
def test_each_conditioning_changes_the_prediction_when_only_the_action_changes(cond):
    torch.manual_seed(0)
    model = build_ac_predictor("latent_test", action_cond=cond)
    z, a, s, z_next = _toy()
    copy_err = float((z_next - z).square().mean())
    final = _fit(model, z, a, s, z_next)
    assert final < 0.3 * copy_err, (cond, final, copy_err)
    with torch.no_grad():
        zp, _ = model(z[:8], a[:8], s[:8])
        zq, _ = model(z[:8], -a[:8], s[:8])  # same latents and states, other actions
    moved = (zp - zq).abs().mean()
    assert moved > 0.3 * (z_next - z)[:8].abs().mean(), (cond, float(moved))


def test_adaln_zero_starts_as_copy_last():
    model = build_ac_predictor("latent_test", action_cond="adaln")
    z, a, s, _ = _toy(n=4)
    zp, _ = model(z, a, s)
    assert torch.equal(zp, z)  # zero-initialised gates and residual head


def test_inverse_dynamics_head_learns_on_a_toy_log():
    torch.manual_seed(0)
    model = build_ac_predictor("latent_test")
    z, a, _, z_next = _toy(n=512)
    opt = torch.optim.Adam(model.inverse_head.parameters(), lr=3e-3)
    base = float(a.square().mean())
    for _ in range(300):
        loss = (model.inverse(z, z_next) - a).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z2, a2, _, z2_next = _toy(n=256, seed=0)  # same dynamics M, the training set
        err = float((model.inverse(z2, z2_next) - a2).square().mean())
    assert err < 0.1 * base, (err, base)


def test_rollout_equals_stepping_and_wraps_angles():
    torch.manual_seed(0)
    model = LatentPredictor(
        embed_dim=16,
        action_dim=2,
        state_dim=3,
        grid=(2, 2),
        latent_dim=6,
        depth=1,
        predictor_embed_dim=16,
        proj_hidden=16,
        inverse_hidden=0,
        angle_dims=[0],
        residual=False,
    )
    z0 = model.embed(torch.randn(1, 1, 4, 16))
    s0 = torch.randn(1, 1, 3)
    acts = torch.randn(5, 4, 2) * 3
    zr, sr = model.rollout(z0, s0, torch.zeros(1, 0, 2), acts)
    assert zr.shape == (5, 4, 6) and sr.shape == (5, 4, 3)
    z, s = z0[:, 0].expand(5, -1), s0[:, 0].expand(5, -1)
    for h in range(4):
        z, s = model.step(z, s, acts[:, h])
        assert torch.allclose(zr[:, h], z, atol=1e-6)
    assert sr[..., 0].abs().max() <= torch.pi + 1e-5
    with pytest.raises(RuntimeError, match="inverse-dynamics"):
        model.inverse(z, z)


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match=r"model\.action_cond"):
        build_ac_predictor("latent_test", action_cond="film")
    model = build_ac_predictor("latent_test")
    with pytest.raises(ValueError, match="pool_grid"):
        model.embed(torch.randn(2, 9, 32))
    with pytest.raises(ValueError, match="actions"):
        model(torch.randn(2, 3, 8), torch.randn(2, 3, 5), torch.randn(2, 3, 4))
