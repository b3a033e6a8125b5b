"""Latent goal costs and the report helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vworld.eval.costs import CostConfig, goal_cost, latent_distance, state_distance
from vworld.eval.report import plot_distances, wilson_interval, write_json, write_video


def test_latent_distance_l1_l2():
    pred = torch.zeros(2, 3, 4, 5)
    goal = torch.ones(4, 5)
    pred[1] = 3.0
    assert torch.allclose(latent_distance(pred, goal, "l1"), torch.tensor([[1.0] * 3, [2.0] * 3]))
    assert torch.allclose(latent_distance(pred, goal, "l2"), torch.tensor([[1.0] * 3, [4.0] * 3]))


def test_goal_cost_last_all_and_state_term():
    pred = torch.zeros(2, 3, 4, 5)
    pred[0, -1] = 1.0  # only candidate 0's last step matches the goal
    goal = torch.ones(1, 1, 4, 5)
    last = goal_cost(pred, goal, CostConfig(cost_on="last"))
    assert last.shape == (2,)
    assert last.tolist() == [0.0, 1.0]
    assert goal_cost(pred, goal, CostConfig(cost_on="all")).tolist() == [2.0, 3.0]
    s_pred = torch.zeros(2, 3, 2)
    s_pred[1] = 1.0
    s_goal = torch.ones(2)
    cfg = CostConfig(cost_on="last", state_weight=10.0)
    assert goal_cost(pred, goal, cfg, s_pred, s_goal).tolist() == [10.0, 1.0]
    # unknown goal state: the state term is skipped
    assert goal_cost(pred, goal, cfg, s_pred, None).tolist() == [0.0, 1.0]


def test_state_distance_wraps_angles_and_selects_dims():
    s_pred = torch.tensor([[[3.1, 0.0, 7.0]], [[0.0, 0.5, 7.0]]])  # (N=2, H=1, S=3)
    goal = torch.tensor([-3.1, 0.0])  # dims 0 (an angle) and 1
    d = state_distance(s_pred, goal, dims=[0, 1], angle_dims=[0])
    # 3.1 and -3.1 are 0.083 apart across the wrap, not 6.2
    assert d[0, 0].item() == pytest.approx((2 * math.pi - 6.2) / 2, abs=1e-5)
    assert d[1, 0].item() == pytest.approx((3.1 + 0.5) / 2, abs=1e-5)
    unwrapped = state_distance(s_pred, goal, dims=[0, 1])
    assert unwrapped[0, 0].item() == pytest.approx(6.2 / 2, abs=1e-5)


def test_state_scales_weigh_dims_in_their_own_units():
    """Push's block: 0.03 m of position and 0.2 rad of yaw count the same once scaled, and a
    scaled angle is wrapped before it is divided."""
    s_pred = torch.tensor([[[0.03, 0.0, 0.0]], [[0.0, 0.0, 0.2 + 2 * math.pi]]])  # (2, 1, 3)
    goal = torch.zeros(3)
    d = state_distance(s_pred, goal, [0, 1, 2], angle_dims=[2], scales=[0.03, 0.03, 0.2])
    assert d[0, 0].item() == pytest.approx(1 / 3, abs=1e-5)
    assert d[1, 0].item() == pytest.approx(1 / 3, abs=1e-4)
    cfg = CostConfig(latent_weight=0.0, state_weight=1.0, state_dims=[0, 1, 2])
    cfg.state_scales = [0.03, 0.03, 0.2]
    cfg.validate()
    cost = goal_cost(None, torch.zeros(1), cfg, s_pred, goal, [0, 1, 2], angle_dims=[2])
    assert cost.tolist() == pytest.approx([1 / 3, 1 / 3], abs=1e-4)
    with pytest.raises(ValueError, match="one scale per compared dim"):
        CostConfig(state_weight=1.0, state_dims=[0, 1], state_scales=[1.0]).validate()
    with pytest.raises(ValueError, match="state_scales must be > 0"):
        CostConfig(state_weight=1.0, state_dims=[0], state_scales=[0.0]).validate()


def test_goal_cost_state_only_with_dims():
    pred = torch.zeros(2, 3, 4, 5)
    s_pred = torch.zeros(2, 3, 4)
    s_pred[1, :, 2] = 1.0
    cfg = CostConfig(cost_on="all", latent_weight=0.0, state_weight=1.0)
    cost = goal_cost(pred, torch.ones(4, 5), cfg, s_pred, torch.tensor([1.0]), state_dims=[2])
    assert cost.tolist() == [3.0, 0.0]  # the latent term is off; only state dim 2 counts
    # without a latent term the rollout need not predict latents
    same = goal_cost(None, torch.ones(4, 5), cfg, s_pred, torch.tensor([1.0]), state_dims=[2])
    assert same.tolist() == [3.0, 0.0]
    with pytest.raises(ValueError, match="no cost term"):
        goal_cost(None, torch.ones(4, 5), cfg, s_pred, None)
    with pytest.raises(ValueError, match="z_pred must be"):
        goal_cost(None, torch.ones(4, 5), CostConfig())


def test_goal_cost_bad_shapes_and_config():
    with pytest.raises(ValueError, match="latent goal has shape"):
        goal_cost(torch.zeros(2, 3, 4, 5), torch.zeros(4, 6), CostConfig())
    with pytest.raises(ValueError, match="cost_type"):
        CostConfig(cost_type="cos").validate()
    with pytest.raises(ValueError, match="cost_on"):
        CostConfig(cost_on="first").validate()
    with pytest.raises(ValueError, match="goal_state"):
        CostConfig(goal_state="oracle").validate()
    with pytest.raises(ValueError, match="both 0"):
        CostConfig(latent_weight=0.0).validate()


def test_wilson_interval():
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-3)
    lo, hi = wilson_interval(50, 50)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.9287, abs=1e-3)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_write_json_plot_video(tmp_path):
    write_json({"a": [1, 2]}, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2]}
    plot_distances([[3, 2, 1], [3, 3]], [True, False], tmp_path / "d.png", threshold=0.5)
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frames = [np.full((33, 64, 3), i * 20, np.uint8) for i in range(7)]
    write_video(frames, tmp_path / "v.mp4", fps=5)
    import av

    with av.open(str(tmp_path / "v.mp4")) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == 7 and decoded[0].shape == (34, 64, 3)
    assert abs(int(decoded[-1][5, 5, 0]) - 120) < 10
