"""Behaviour of vworld's MuJoCo goal-reaching envs: determinism, exact replay, success tests,
goal images, spaces and registration."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs.base import wrap_angle

ENV_IDS = list(envs.ENV_IDS)


@pytest.fixture(params=ENV_IDS)
def env(request):
    e = gym.make(request.param, render_size=32)
    yield e
    e.close()


def _rollout(e: gym.Env, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    states, pixels, sims = [], [], []
    for a in actions:
        obs, *_ = e.step(a)
        states.append(obs["state"])
        pixels.append(obs["pixels"])
        sims.append(e.unwrapped.get_state())
    return np.stack(states), np.stack(pixels), np.stack(sims)


def test_registered_with_time_limit():
    for env_id in ENV_IDS:
        assert gym.spec(env_id).max_episode_steps == 200


def test_spaces_and_dtypes(env):
    obs, info = env.reset(seed=0)
    assert set(obs) == {"pixels", "state"}
    assert obs["pixels"].shape == (32, 32, 3) and obs["pixels"].dtype == np.uint8
    assert obs["state"].dtype == np.float32 and obs["state"].ndim == 1
    assert env.observation_space.contains(obs)
    assert env.action_space.shape == (2,)
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)
    assert isinstance(info["success"], bool) and isinstance(info["distance"], float)
    state = env.unwrapped.get_state()
    assert state.dtype == np.float64 and state.shape == (env.unwrapped.sim_state_dim,)
    assert obs["pixels"].std() > 0  # something is drawn


@pytest.mark.parametrize("size", [16, 48])
def test_render_size_configurable(size):
    e = gym.make("vworld/Reach-v0", render_size=size)
    obs, _ = e.reset(seed=0)
    assert obs["pixels"].shape == (size, size, 3)
    assert e.unwrapped.goal_pixels().shape == (size, size, 3)
    e.close()


def test_seeded_reset_and_trajectory_are_deterministic(env):
    env_id = env.spec.id
    other = gym.make(env_id, render_size=32)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(15, 2)).astype(np.float32)
    obs_a, info_a = env.reset(seed=7)
    obs_b, info_b = other.reset(seed=7)
    np.testing.assert_array_equal(obs_a["pixels"], obs_b["pixels"])
    np.testing.assert_array_equal(obs_a["state"], obs_b["state"])
    np.testing.assert_array_equal(env.unwrapped.goal_state, other.unwrapped.goal_state)
    assert info_a == info_b
    for x, y in zip(_rollout(env, actions), _rollout(other, actions)):
        np.testing.assert_array_equal(x, y)
    # A different seed gives a different start or goal.
    env.reset(seed=8)
    assert not np.array_equal(env.unwrapped.goal_state, other.unwrapped.goal_state)
    other.close()


def test_set_state_replays_exactly(env):
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    _rollout(env, rng.uniform(-1, 1, size=(10, 2)))  # moving, possibly in contact
    saved = env.unwrapped.get_state()
    actions = rng.uniform(-1, 1, size=(25, 2))
    first = _rollout(env, actions)
    _rollout(env, rng.uniform(-1, 1, size=(5, 2)))  # wander off
    env.unwrapped.set_state(saved)
    np.testing.assert_array_equal(env.unwrapped.get_state(), saved)
    second = _rollout(env, actions)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)


def test_advance_is_step_without_the_frame(env):
    """``advance`` (physics only, for simulating candidate plans) ends where ``step`` does."""
    env.reset(seed=3)
    u = env.unwrapped
    saved = u.get_state()
    actions = np.random.default_rng(3).uniform(-1, 1, size=(12, 2))
    stepped = _rollout(env, actions)[2][-1]
    u.set_state(saved)
    for a in actions:
        assert u.advance(a) is None
    np.testing.assert_array_equal(u.get_state(), stepped)
    with pytest.raises(ValueError, match="action must have shape"):
        u.advance(np.zeros(3))


def test_actions_are_clipped(env):
    env.reset(seed=2)
    saved = env.unwrapped.get_state()
    a = np.array([0.7, -0.4], dtype=np.float32)
    obs_big, *_ = env.step(a * 3.0)
    env.unwrapped.set_state(saved)
    obs_clip, *_ = env.step(np.clip(a * 3.0, -1, 1))
    np.testing.assert_array_equal(obs_big["state"], obs_clip["state"])
    with pytest.raises(ValueError, match="action must have shape"):
        env.unwrapped.step(np.zeros(3))


def test_goal_pixels_match_render_at_goal(env):
    env.reset(seed=3)
    base = env.unwrapped
    goal_img = base.goal_pixels()
    assert not np.array_equal(goal_img, base.render())  # start differs from goal
    base.set_state(base.goal_state)
    np.testing.assert_array_equal(base.render(), goal_img)
    assert base.evaluate()["success"]
    # A goal given as a sampled state, then as a goal configuration.
    g = base.sample_goal_state(np.random.default_rng(5))
    base.set_goal(g)
    img = base.goal_pixels()
    base.set_state(g)
    np.testing.assert_array_equal(base.render(), img)
    base.set_goal(base.task_config(g))
    assert base.task_distance(base.goal_state, g) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="set_goal"):
        base.set_goal(np.zeros(1))


def test_reset_options_fix_state_and_goal(env):
    base = env.unwrapped
    rng = np.random.default_rng(4)
    start, goal = base.sample_goal_state(rng), base.sample_goal_state(rng)
    env.reset(seed=0, options={"state": start, "goal": goal})
    np.testing.assert_array_equal(base.get_state()[: base.model.nq], start[: base.model.nq])
    np.testing.assert_array_equal(base.goal_state, goal)
    with pytest.raises(ValueError, match="unknown options"):
        env.reset(options={"bogus": 1})


def _success_at(base, goal_cfg, cfg) -> dict:
    base.set_goal(goal_cfg)
    base.set_state(base.config_to_state(cfg))
    info = base.evaluate()
    _, _, terminated, _, step_info = base.step(np.zeros(2))  # at rest, no force: stays put
    assert not terminated
    assert step_info["success"] == info["success"]
    return info


def test_reach_success_threshold():
    base = envs.ReachEnv(render_size=16)
    base.reset(seed=0)
    g = np.array([0.3, -1.0])
    for dq, ok in [
        ((0.049, 0.0), True),
        ((0.0, -0.049), True),
        ((0.051, 0.0), False),
        ((0.04, -0.051), False),
        ((0.0, 0.0), True),
    ]:
        info = _success_at(base, g, g + np.array(dq))
        assert info["success"] is ok, dq
        assert info["distance"] == pytest.approx(np.max(np.abs(dq)), abs=1e-9)
    # The shoulder angle wraps: pi - 0.02 and -pi + 0.02 are 0.04 apart.
    assert _success_at(base, np.array([np.pi - 0.02, 0.0]), np.array([-np.pi + 0.02, 0.0]))[
        "success"
    ]
    assert (
        _success_at(base, np.array([np.pi - 0.03, 0.0]), np.array([-np.pi + 0.03, 0.0]))["success"]
        is False
    )
    base.close()


def test_pointmaze_success_threshold():
    base = envs.PointMazeEnv(render_size=16)
    base.reset(seed=0)
    g = np.array([0.5, 0.3])
    r = base.success_threshold
    for off, ok in [
        ((0.99 * r, 0.0), True),
        ((0.0, -1.01 * r), False),
        ((0.7 * r, 0.7 * r), True),
        ((0.72 * r, 0.72 * r), False),
    ]:
        info = _success_at(base, g, g + np.array(off))
        assert info["success"] is ok, off
        assert info["distance"] == pytest.approx(np.hypot(*off), abs=1e-9)
    base.close()


def test_pointmaze_start_and_goal_in_different_rooms():
    base = envs.PointMazeEnv(render_size=16)
    for seed in range(6):
        base.reset(seed=seed)
        assert base.room_of(base.task_config()) != base.room_of(base.task_config(base.goal_state))
    base.close()


def test_push_success_threshold():
    base = envs.PushEnv(render_size=16)
    base.reset(seed=0)
    g = np.array([0.05, -0.05, 3.0])
    p, a = base.position_threshold, base.angle_threshold
    cases = [
        ((0.0, 0.0, 0.0), True),
        ((0.99 * p, 0.0, 0.0), True),
        ((0.0, 1.01 * p, 0.0), False),
        ((0.0, 0.0, 0.99 * a), True),
        ((0.0, 0.0, -1.01 * a), False),
        ((0.9 * p, 0.0, 0.9 * a), True),
        ((0.9 * p, 0.0, 1.1 * a), False),
    ]
    for off, ok in cases:
        info = _success_at(base, g, g + np.array(off))
        assert info["success"] is ok, off
        assert info["angle_distance"] == pytest.approx(abs(off[2]), abs=1e-9)
    # Yaw wraps: 3.0 + 0.15 is past pi but still 0.15 from the goal.
    assert _success_at(base, g, g + np.array([0.0, 0.0, 0.15]))["success"]
    assert wrap_angle(g[2] + 0.15) < 0
    base.close()


def test_push_block_moves_when_pushed():
    base = envs.PushEnv(render_size=16)
    start = base._make_state(np.array([-0.15, 0.0]), np.array([0.0, 0.0, 0.0]))
    base.reset(seed=0, options={"state": start})
    for _ in range(20):
        base.step(np.array([1.0, 0.0]))
    assert base.task_config()[0] > 0.05
    base.close()


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="render_size"):
        envs.ReachEnv(render_size=0)
    with pytest.raises(ValueError, match="frame_skip"):
        envs.PointMazeEnv(frame_skip=0)


def test_push_replay_during_contact_is_exact():
    # Saved mid-push: the solver warm start is part of the state, or replay drifts by ~1e-14.
    base = envs.PushEnv(render_size=16)
    start = base._make_state(np.array([-0.15, 0.0]), np.array([0.0, 0.0, 0.3]))
    base.reset(seed=0, options={"state": start})
    for _ in range(8):
        base.step(np.array([1.0, 0.2]))
    assert base.data.ncon > 0
    saved = base.get_state()
    actions = np.random.default_rng(0).uniform(0.0, 1.0, size=(20, 2))

    def roll() -> np.ndarray:
        out = []
        for a in actions:
            base.step(a)
            out.append(base.get_state())
        return np.stack(out)

    first = roll()
    base.set_state(saved)
    np.testing.assert_array_equal(roll(), first)
    base.close()
