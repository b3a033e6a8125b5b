"""stable-worldmodel's swm/ReacherDMControl-v0 through vworld (the ``swm-dmc`` extra).

Skipped unless stable-worldmodel and a dm_control that runs on the installed MuJoCo are
present (dm_control does not work with MuJoCo 4: ``pip install 'vworld[swm-dmc]'`` pins 3.x).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import envs
from vworld.data.collect import CollectConfig, collect
from vworld.data.logs import open_robot_log

ENV_ID = "swm/ReacherDMControl-v0"


@pytest.fixture(scope="module")
def reacher():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # swm warns about optional env families it lacks
        pytest.importorskip("stable_worldmodel")
        pytest.importorskip("dm_control")
        try:
            from dm_control import suite

            suite.load("reacher", "easy").reset()
        except Exception as e:  # dm_control on MuJoCo 4 fails on a missing model field
            pytest.skip(f"dm_control does not run on this MuJoCo: {e}")
    env = envs.make(ENV_ID, render_size=48)
    yield env
    env.close()


def test_goal_image_and_success_are_swm_qpos_match(reacher):
    u = reacher.unwrapped
    reacher.reset(seed=0)
    start = u.get_state()
    goal = start.copy()
    goal[:2] += [0.4, -0.3]
    obs, info = reacher.reset(seed=1, options={"state": start, "goal": goal})
    np.testing.assert_allclose(u.get_state(), start)
    np.testing.assert_allclose(u.goal_state[:2], goal[:2])
    assert not info["success"] and info["distance"] == pytest.approx(0.4)
    goal_pixels = u.goal_pixels()
    assert (
        goal_pixels.shape == (48, 48, 3)
        and np.abs(goal_pixels.astype(int) - obs["pixels"]).max() > 0
    )
    u.set_state(goal)
    np.testing.assert_array_equal(goal_pixels, u.observe()["pixels"])  # the render at the goal
    # 0.02 rad from the goal: swm's task terminates (success) on the first step, 0.3 away not
    for offset, expect in ((0.02, True), (0.3, False)):
        near = goal.copy()
        near[:2] -= offset
        reacher.reset(seed=2, options={"state": near, "goal": goal})
        _, _, terminated, _, info = reacher.step(np.zeros(2, np.float32))
        assert terminated == info["success"] == expect


def test_collect_two_episodes_reads_back(reacher, tmp_path):
    cfg = CollectConfig(
        env=ENV_ID, episodes=2, steps=10, policy="smooth", workers=0, out_dir=str(tmp_path / "d")
    )
    root = collect(cfg)
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["robot_type"] == ENV_ID
    log = open_robot_log(root)
    assert log.num_episodes == 2 and (log.state_dim, log.sim_state_dim) == (4, 4)
    ep = log.load_episode(1)
    assert ep.frames.shape == (len(ep), 64, 64, 3)
    np.testing.assert_allclose(ep.states, ep.sim_states)  # proprioception = qpos, qvel
    assert np.abs(np.diff(ep.sim_states[:, :2], axis=0)).sum() > 0  # the arm moved


def test_plan_harness_runs_the_protocol(reacher, tmp_path):
    from vworld.eval.harness import PlanConfig, run_planning

    data = collect(
        CollectConfig(
            env=ENV_ID,
            episodes=1,
            steps=30,
            policy="smooth",
            workers=0,
            seed=3,
            out_dir=str(tmp_path / "heldout"),
        )
    )
    cfg = PlanConfig(
        env=ENV_ID,
        planner="random",
        episodes=2,
        goal_source="dataset",
        goal_dataset=str(data),
        goal_offset_steps=25,
        max_steps=10,
        receding_horizon=5,
        num_video_episodes=0,
        out_dir=str(tmp_path / "plan"),
    )
    res = run_planning(cfg)
    assert res["num_episodes"] == 2 and res["env"] == ENV_ID
    assert all(e["steps"] <= 10 for e in res["episodes"])
