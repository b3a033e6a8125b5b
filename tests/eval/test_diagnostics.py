"""The can-it-plan diagnostics on a tiny real world model and the real Reach simulator."""

from __future__ import annotations

import math

from vworld.eval.costs import CostConfig
from vworld.eval.diagnostics import DiagnosticsConfig, planning_diagnostics
from vworld.eval.harness import PlanConfig, make_env


def test_diagnostics_tell_an_action_blind_model_from_one_that_listens(tiny_jepa):
    env = make_env(PlanConfig())
    cfg = DiagnosticsConfig(starts=2, num_candidates=8, horizon=2, goal_offset_steps=5)
    cost = CostConfig(cost_type="l2", latent_only=True)
    try:
        blind = planning_diagnostics(env, tiny_jepa("adaln"), cost, cfg)
        listens = planning_diagnostics(env, tiny_jepa("input"), cost, cfg)
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


def test_diagnostics_candidates_take_an_action_per_env_step(tiny_jepa):
    """``block_actions=each``: candidates are ``action_block`` actions per model step."""
    env = make_env(PlanConfig())
    base = dict(starts=1, num_candidates=6, horizon=2, goal_offset_steps=5)
    cost = CostConfig(cost_type="l2", latent_only=True)
    try:
        each = planning_diagnostics(
            env, tiny_jepa("input"), cost, DiagnosticsConfig(**base, block_actions="each")
        )
        held = planning_diagnostics(env, tiny_jepa("input"), cost, DiagnosticsConfig(**base))
    finally:
        env.close()
    assert each["action_sensitivity"] > 0.0 and math.isfinite(each["rank_corr"])
    assert each["latent_error"] != held["latent_error"]  # other candidates, other outcomes


def test_diagnostics_give_the_model_the_state_the_controller_gives(tiny_world_model_with_object):
    """A world model whose state goes on past the robot's (a probe-read object pose) is rolled
    out from ``observed_state``, as ``LatentController.act`` does, not from the raw sensed state."""
    wm = tiny_world_model_with_object
    env = make_env(PlanConfig())
    cfg = DiagnosticsConfig(starts=1, num_candidates=4, horizon=2, goal_offset_steps=5)
    try:
        d = planning_diagnostics(env, wm, CostConfig(cost_type="l2"), cfg)
    finally:
        env.close()
    # the 4 sensed dims and the probe's object dim
    assert wm.seen and {s.shape[-1] for s in wm.seen} == {5}
    assert math.isfinite(d["latent_error"])
