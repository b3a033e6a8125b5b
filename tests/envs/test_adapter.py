"""GoalImageAdapter on Gymnasium's MuJoCo envs (skipped where they cannot be built)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from envs.adapter import GoalImageAdapter


def _make(env_id: str) -> GoalImageAdapter:
    try:
        env = gym.make(env_id)
    except (ImportError, gym.error.Error) as err:  # missing gymnasium[mujoco] or version
        pytest.skip(f"{env_id} unavailable: {err}")
    return GoalImageAdapter(env, render_size=32)


@pytest.mark.parametrize("env_id", ["Reacher-v5", "Pusher-v5"])
def test_adapter_interface(env_id):
    env = _make(env_id)
    obs, info = env.reset(seed=0)
    assert obs["pixels"].shape == (32, 32, 3) and obs["pixels"].dtype == np.uint8
    assert obs["state"].dtype == np.float32 and obs["state"].shape == (env.state_dim,)
    assert isinstance(info["success"], bool) and isinstance(info["distance"], float)
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)

    # Same seed, same goal.
    goal = env.goal_state
    env.reset(seed=0)
    np.testing.assert_array_equal(env.goal_state, goal)

    # Exact replay from a saved state.
    rng = np.random.default_rng(0)
    for a in rng.uniform(-1, 1, size=(5, *env.action_space.shape)):
        env.step(a)
    saved = env.get_state()
    actions = rng.uniform(-1, 1, size=(15, *env.action_space.shape))
    first = [env.step(a)[0]["state"] for a in actions]
    env.set_state(saved)
    second = [env.step(a)[0]["state"] for a in actions]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))

    # Goal image equals the rendering at the goal state, and that state succeeds.
    img = env.goal_pixels()
    env.set_state(env.goal_state)
    np.testing.assert_array_equal(env.render(), img)
    assert env.task_distance(env.get_state(), env.goal_state) == pytest.approx(0.0, abs=1e-12)
    env.close()


def test_adapter_reacher_success_threshold():
    env = _make("Reacher-v5")
    env.reset(seed=0)
    g = np.array([0.5, 1.0])
    env.set_goal(g)
    for dq, ok in [((0.049, 0.0), True), ((0.0, 0.051), False)]:
        env.set_state(env.config_to_state(g + np.array(dq)))
        dist = env.task_distance(env.get_state(), env.goal_state)
        assert (dist < env.task.threshold) is ok
    env.close()


def test_adapter_rejects_non_mujoco_env():
    with pytest.raises(TypeError, match="not a MuJoCo env"):
        GoalImageAdapter(gym.make("CartPole-v1"))
