"""stable-worldmodel's swm/OGBCube-v0 (OGBench's cube, one cube) through vworld.

Skipped unless stable-worldmodel, ogbench and a dm_control that runs on the installed MuJoCo
are present (the ``swm-dmc`` extra pins MuJoCo 3.x; dm_control does not work with MuJoCo 4).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import envs
from vworld.data.collect import CollectConfig, collect, make_env, run_episode
from vworld.data.logs import open_robot_log

ENV_ID = "swm/OGBCube-v0"


@pytest.fixture(scope="module")
def cube():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # swm warns about optional env families it lacks
        pytest.importorskip("stable_worldmodel")
        pytest.importorskip("ogbench")
        pytest.importorskip("dm_control")
        try:
            from dm_control import mjcf

            mjcf.RootElement()
            env = envs.make(ENV_ID, render_size=48)
        except Exception as e:  # dm_control on MuJoCo 4 fails on a missing model field
            pytest.skip(f"ogbench's cube does not run here: {e}")
    yield env
    env.close()


def test_goal_image_and_success_are_the_cube_within_4_cm(cube):
    u = cube.unwrapped
    cube.reset(seed=0)
    start = u.get_state()
    assert start.shape == (41,)
    goal = start.copy()
    goal[14] += 0.1  # the cube 10 cm further along x
    obs, info = cube.reset(seed=1, options={"state": start, "goal": goal})
    np.testing.assert_allclose(u.get_state()[:21], start[:21], atol=1e-9)
    np.testing.assert_allclose(u.goal_state, goal)
    assert not info["success"] and info["distance"] == pytest.approx(0.1)
    goal_pixels = u.goal_pixels()
    assert goal_pixels.shape == (48, 48, 3)
    assert np.abs(goal_pixels.astype(int) - obs["pixels"]).max() > 0
    u.set_state(goal)
    np.testing.assert_array_equal(goal_pixels, u.observe()["pixels"])  # the render at the goal
    # the cube 2 cm from the target: the env terminates (success) on the first step; 10 cm not
    for offset, expect in ((0.02, True), (0.1, False)):
        near = goal.copy()
        near[14] -= offset
        cube.reset(seed=2, options={"state": near, "goal": goal})
        _, _, terminated, _, info = cube.step(np.zeros(5, np.float32))
        assert terminated == info["success"] == expect
    # vworld's render quality (no multisampling, a 1024-px shadow map) outlives the env's
    # recompiles at reset, for the env's frames and for the goal image's scratch copy
    for env in (u.base, u._scratch):
        quality = env._model.vis.quality
        assert (quality.offsamples, quality.shadowsize) == (0, 1024)


def test_expert_episode_depends_on_its_seed_only(cube):
    from envs.policies import make_policy

    env = make_env(ENV_ID, 32, None, 12)
    try:
        policy = make_policy("expert", env)
        a, b = (run_episode(env, policy, 0, 3, 12) for _ in range(2))
        other = run_episode(env, policy, 0, 4, 12)
    finally:
        env.close()
    np.testing.assert_allclose(a["sim_states"], b["sim_states"])
    np.testing.assert_allclose(a["actions"], b["actions"])
    assert np.abs(a["sim_states"][0] - other["sim_states"][0]).max() > 1e-3
    assert np.abs(np.diff(a["states"], axis=0)).sum() > 0  # the expert moved the arm


def test_collect_two_episodes_reads_back(cube, tmp_path):
    cfg = CollectConfig(
        env=ENV_ID, episodes=2, steps=8, policy="expert", workers=0, out_dir=str(tmp_path / "d")
    )
    root = collect(cfg)
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["robot_type"] == ENV_ID
    log = open_robot_log(root)
    assert log.num_episodes == 2 and (log.state_dim, log.sim_state_dim) == (7, 41)
    ep = log.load_episode(1)
    assert ep.frames.shape == (len(ep), 64, 64, 3) and len(ep) == 8
    np.testing.assert_allclose(ep.states, ep.sim_states[:, :7], atol=1e-5)


def test_plan_harness_runs_the_protocol(cube, tmp_path):
    from vworld.eval.harness import PlanConfig, run_planning

    data = collect(
        CollectConfig(
            env=ENV_ID,
            episodes=1,
            steps=27,
            policy="expert",
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
        max_steps=5,
        receding_horizon=5,
        num_video_episodes=0,
        out_dir=str(tmp_path / "plan"),
    )
    res = run_planning(cfg)
    assert res["num_episodes"] == 2 and res["env"] == ENV_ID
    assert all(e["steps"] <= 5 for e in res["episodes"])
