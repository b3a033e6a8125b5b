"""Tests for the action-conditioned predictor (V-JEPA 2-AC) and its KV-cached rollout."""

from __future__ import annotations

import pytest
import torch

from vworld.layers.block_causal import build_block_causal_mask
from vworld.layers.pooling import pool_tokens
from vworld.models.ac_predictor import AC_CONFIGS, ActionConditionedPredictor
from vworld.models.ac_predictors import build_ac_predictor


def _model(**kw) -> ActionConditionedPredictor:
    torch.manual_seed(0)
    m = build_ac_predictor("ac_test", **kw).eval()
    if m.state_head is not None:  # the zero-initialised head would hide state-path bugs
        torch.nn.init.normal_(m.state_head.fc2.weight, std=0.2)
    return m


def _inputs(m: ActionConditionedPredictor, b: int, t: int, n_tokens: int | None = None):
    g = torch.Generator().manual_seed(1)
    n = n_tokens or m.grid[0] * m.grid[1]
    z = torch.randn(b, t, n, m.embed_dim, generator=g)
    a = torch.randn(b, t, m.action_dim, generator=g)
    s = torch.randn(b, t, m.state_dim, generator=g)
    return z, a, s


def test_block_causal_mask_layout():
    mask = build_block_causal_mask(3, 2)
    expected = torch.tensor(
        [
            [1, 1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("name", ["ac_test", "ac_micro"])
def test_forward_backward_shapes(name):
    m = build_ac_predictor(name)
    z, a, s = _inputs(m, 2, 3)
    z_next, s_next = m(z, a, s)
    assert z_next.shape == z.shape
    assert s_next.shape == s.shape
    (z_next.square().mean() + s_next.square().mean()).backward()
    for n, p in m.named_parameters():
        assert p.grad is not None, n
        assert torch.isfinite(p.grad).all(), n


def test_vjepa2_config_size():
    with torch.device("meta"):
        m = build_ac_predictor("ac_vjepa2", state_head=False)
    assert len(m.predictor_blocks) == 24
    assert m.predictor_embed.weight.shape == (1024, 1408)
    assert m.predictor_blocks[0].attn.num_heads == 16
    n_params = sum(p.numel() for p in m.parameters())
    assert 300e6 < n_params < 310e6  # 24 x 12.6M blocks + embeddings


def test_block_causal_dependence():
    m = _model()
    z, a, s = _inputs(m, 1, 4)
    with torch.no_grad():
        z0, s0 = m(z, a, s)
        z1, a1, s1 = z.clone(), a.clone(), s.clone()
        z1[:, 2:] += 1.0
        a1[:, 2:] += 1.0
        s1[:, 2:] += 1.0
        z2, s2 = m(z1, a1, s1)
    # Later inputs leave earlier predictions unchanged ...
    torch.testing.assert_close(z2[:, :2], z0[:, :2], rtol=0, atol=1e-6)
    torch.testing.assert_close(s2[:, :2], s0[:, :2], rtol=0, atol=1e-6)
    # ... and change the predictions of their own and later steps.
    assert (z2[:, 2:] - z0[:, 2:]).abs().amax() > 1e-3
    # Each kind of earlier input reaches later outputs.
    for which in range(3):
        inp = [t.clone() for t in (z, a, s)]
        inp[which][:, 0] += 1.0
        with torch.no_grad():
            z3, _ = m(*inp)
        assert (z3[:, 3] - z0[:, 3]).abs().amax() > 1e-4, which


def test_action_changes_same_step_prediction():
    m = _model()
    z, a, s = _inputs(m, 1, 2)
    a2 = a.clone()
    a2[:, 1] += 1.0
    with torch.no_grad():
        z0, _ = m(z, a, s)
        z1, _ = m(z, a2, s)
    torch.testing.assert_close(z1[:, 0], z0[:, 0], rtol=0, atol=1e-6)
    assert (z1[:, 1] - z0[:, 1]).abs().amax() > 1e-4


def test_pool_tokens_matches_block_means():
    z = torch.randn(2, 3, 16, 5)
    p = pool_tokens(z, (4, 4), (2, 2))
    assert p.shape == (2, 3, 4, 5)
    grid = z.view(2, 3, 4, 4, 5)
    torch.testing.assert_close(p[:, :, 0], grid[:, :, :2, :2].mean(dim=(2, 3)))
    torch.testing.assert_close(p[:, :, 3], grid[:, :, 2:, 2:].mean(dim=(2, 3)))
    assert pool_tokens(z, (4, 4), None) is z
    with pytest.raises(ValueError, match="pool_tokens"):
        pool_tokens(z, (3, 3), (2, 2))


def test_pooled_forward_shapes_and_prepooled_input():
    m = _model(pool_grid=(2, 2))
    z, a, s = _inputs(m, 2, 3)
    with torch.no_grad():
        z_next, s_next = m(z, a, s)
        z_next2, _ = m(pool_tokens(z, m.grid, m.pool_grid), a, s)
    assert z_next.shape == (2, 3, 4, m.embed_dim)
    assert s_next.shape == (2, 3, m.state_dim)
    torch.testing.assert_close(z_next, z_next2)


@pytest.mark.parametrize(
    ("tc", "kw"),
    [
        (1, {}),
        (3, {}),
        (2, {"pool_grid": (2, 2)}),
        (2, {"normalize_output": True}),
        (2, {"use_rope": False}),
    ],
)
def test_cached_rollout_matches_uncached(tc, kw):
    m = _model(**kw)
    z, a, s = _inputs(m, 1, tc)
    plan = torch.randn(5, 4, m.action_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        zc, sc = m.rollout(z, s, a[:, : tc - 1], plan)
        zu, su = m.rollout(z, s, a[:, : tc - 1], plan, use_cache=False)
    assert zc.shape == (5, 4, m.num_frame_tokens, m.embed_dim)
    assert sc.shape == (5, 4, m.state_dim)
    torch.testing.assert_close(zc, zu, rtol=0, atol=1e-5)
    torch.testing.assert_close(sc, su, rtol=0, atol=1e-5)
    # candidates differ only by their actions, so their predictions must differ
    assert (zc[0] - zc[1]).abs().amax() > 1e-4


def test_rollout_first_step_is_forward():
    m = _model()
    z, a, s = _inputs(m, 1, 2)
    plan = torch.randn(3, 2, m.action_dim)
    with torch.no_grad():
        zr, sr = m.rollout(z, s, a[:, :1], plan)
        zf, sf = m(
            z.expand(3, -1, -1, -1), torch.cat([a[:, :1].expand(3, -1, -1), plan[:, :1]], 1), s
        )
    torch.testing.assert_close(zr[:, 0], zf[:, -1], rtol=0, atol=1e-5)
    torch.testing.assert_close(sr[:, 0], sf[:, -1], rtol=0, atol=1e-5)


def test_rollout_per_candidate_context_and_extrinsics():
    m = _model(extrinsics_dim=2)
    z, a, s = _inputs(m, 3, 2)
    e = torch.randn(3, 2, 2)
    plan = torch.randn(3, 3, m.action_dim)
    with torch.no_grad():
        zc, sc = m.rollout(z, s, a[:, :1], plan, e_ctx=e)
        zu, su = m.rollout(z, s, a[:, :1], plan, e_ctx=e, use_cache=False)
    torch.testing.assert_close(zc, zu, rtol=0, atol=1e-5)
    torch.testing.assert_close(sc, su, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="extrinsics"):
        m(z, a, s)


def test_state_fn_replaces_missing_head():
    m = _model(state_head=False)
    z, a, s = _inputs(m, 1, 2)
    plan = torch.randn(4, 3, m.action_dim)
    with torch.no_grad():
        _, s_none = m(z, a, s)
        assert s_none is None
        with pytest.raises(ValueError, match="state_fn"):
            m.rollout(z, s, a[:, :1], plan)

        def step(s_t, a_t):
            return s_t + a_t[:, :1]

        zc, sc = m.rollout(z, s, a[:, :1], plan, state_fn=step)
        zu, su = m.rollout(z, s, a[:, :1], plan, state_fn=step, use_cache=False)
    expected = s[:, -1:, :] + plan[:, :, :1].cumsum(1)
    torch.testing.assert_close(sc, expected)
    torch.testing.assert_close(su, expected)
    torch.testing.assert_close(zc, zu, rtol=0, atol=1e-5)


def test_bad_inputs_raise_clear_errors():
    m = _model()
    z, a, s = _inputs(m, 2, 3)
    with pytest.raises(ValueError, match="tokens per frame"):
        m(z[:, :, :5], a, s)
    with pytest.raises(ValueError, match="actions"):
        m(z, a[:, :2], s)
    with pytest.raises(ValueError, match="a_ctx"):
        m.rollout(z[:1], s[:1], a[:1], torch.randn(2, 2, m.action_dim))
    with pytest.raises(ValueError, match="max_steps"):
        m.rollout(z[:1], s[:1], a[:1, :2], torch.randn(2, 20, m.action_dim))
    with pytest.raises(KeyError, match="unknown"):
        build_ac_predictor("ac_nope")


def test_named_configs_are_complete():
    for name, cfg in AC_CONFIGS.items():
        assert {"embed_dim", "action_dim", "state_dim", "grid"} <= set(cfg), name


def test_registered_with_model_registry():
    from vworld.models.registry import create_model, list_models, model_kind

    assert {"ac_vjepa2", "ac_micro", "ac_test"} <= set(list_models("ac_predictor"))
    assert model_kind("ac_micro") == "ac_predictor"
    m = create_model("ac_test", pool_grid=(2, 2))
    assert isinstance(m, ActionConditionedPredictor) and m.num_frame_tokens == 4
    with pytest.raises(TypeError, match="pool_gird"):
        create_model("ac_test", pool_gird=(2, 2))


def test_cached_rollout_gradients_match_uncached():
    m = _model()
    z, a, s = _inputs(m, 1, 2)
    plan = torch.randn(3, 3, m.action_dim, generator=torch.Generator().manual_seed(3))
    grads = []
    for use_cache in (True, False):
        p = plan.clone().requires_grad_()
        zr, sr = m.rollout(z, s, a[:, :1], p, use_cache=use_cache)
        (zr.square().mean() + sr.square().mean()).backward()
        grads.append(p.grad)
    assert grads[0].abs().amax() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-5)


def test_residual_prediction_starts_from_the_last_latent_and_caches_alike():
    torch.manual_seed(0)
    m = build_ac_predictor("ac_test", residual=True).eval()
    with torch.no_grad():
        for p in m.predictor_proj.parameters():
            p.zero_()
    z = torch.randn(2, 3, 16, 32)
    a, s = torch.randn(2, 3, 3), torch.randn(2, 3, 4)
    with torch.no_grad():
        z_next, _ = m(z, a, s)
    torch.testing.assert_close(z_next, z)  # zero output head: copy the last latent
    torch.manual_seed(1)
    m = build_ac_predictor("ac_test", residual=True).eval()
    plans = torch.randn(5, 4, 3)
    with torch.no_grad():
        cached = m.rollout(z[:1], s[:1], a[:1, :2], plans)
        plain = m.rollout(z[:1], s[:1], a[:1, :2], plans, use_cache=False)
    torch.testing.assert_close(cached[0], plain[0], atol=1e-5, rtol=1e-5)
