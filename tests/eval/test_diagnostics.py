"""The can-it-plan diagnostics on a tiny real world model and the real Reach simulator."""

from __future__ import annotations

import math

import torch

from vworld.eval.costs import CostConfig
from vworld.eval.diagnostics import DiagnosticsConfig, planning_diagnostics
from vworld.eval.harness import PlanConfig, make_env
from vworld.models.ac_predictors import build_ac_predictor
from vworld.models.registry import create_model
from vworld.world_model import JEPAWorldModel


def _world_model(action_cond: str) -> JEPAWorldModel:
    """An untrained model; without the residual head's zero init, only AdaLN-zero's gates
    keep the action out of the prediction."""
    torch.manual_seed(0)
    encoder = create_model("vit_test", img_size=64, num_frames=2)
    kwargs = dict(embed_dim=48, action_dim=10, state_dim=4, action_cond=action_cond, residual=False)
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


def test_diagnostics_tell_an_action_blind_model_from_one_that_listens():
    env = make_env(PlanConfig())
    cfg = DiagnosticsConfig(starts=2, num_candidates=8, horizon=2, goal_offset_steps=5)
    cost = CostConfig(cost_type="l2", latent_only=True)
    try:
        blind = planning_diagnostics(env, _world_model("adaln"), cost, cfg)
        listens = planning_diagnostics(env, _world_model("input"), cost, cfg)
    finally:
        env.close()
    # AdaLN-zero starts with every gate at 0: its prediction ignores the action entirely
    assert blind["action_sensitivity"] == 0.0
    assert listens["action_sensitivity"] > 0.0
    assert blind["rank_corr"] == 0.0  # identical predictions rank nothing
    for d in (blind, listens):
        assert set(d) == {"action_sensitivity", "rank_corr", "latent_rank_corr", "latent_error"}
        assert math.isfinite(d["latent_rank_corr"]) and -1.0 <= d["latent_rank_corr"] <= 1.0
        assert d["latent_error"] > 0.0
    # the true latents are the same for both (same encoder and projector)
    assert blind["latent_rank_corr"] == listens["latent_rank_corr"]
