"""Behaviour policies: bounds, determinism for a generator, smoothness, and the scripted
controllers reaching their goals."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs


@pytest.mark.parametrize("env_id", list(envs.ENV_IDS))
@pytest.mark.parametrize("name", ["random", "smooth", "scripted"])
def test_actions_in_bounds_and_deterministic(env_id, name):
    env = gym.make(env_id, render_size=16)
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=0)
        policy = envs.make_policy(name, env)
        policy.reset(np.random.default_rng(3), env)
        actions = []
        for _ in range(30):
            a = policy(obs, env)
            assert a.dtype == np.float32 and a.shape == (2,)
            assert np.all(a >= -1.0) and np.all(a <= 1.0)
            obs, *_ = env.step(a)
            actions.append(a)
        runs.append(np.stack(actions))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].std() > 0.01  # not stuck at a constant
    env.close()


def test_smooth_policy_is_correlated():
    env = gym.make("vworld/Reach-v0", render_size=16)
    env.reset(seed=0)

    def lag1(policy) -> float:
        policy.reset(np.random.default_rng(0), env)
        a = np.stack([policy(None, env) for _ in range(2000)])[:, 0]
        return float(np.corrcoef(a[:-1], a[1:])[0, 1])

    assert lag1(envs.SmoothPolicy(beta=0.9)) > 0.7
    assert abs(lag1(envs.RandomPolicy())) < 0.1
    env.close()


def test_make_policy_rejects_unknown_names_and_arguments():
    env = gym.make("vworld/Reach-v0", render_size=16)
    with pytest.raises(ValueError, match="unknown policy"):
        envs.make_policy("greedy", env)
    with pytest.raises(TypeError):
        envs.make_policy("smooth", env, bta=0.5)
    with pytest.raises(ValueError, match="beta"):
        envs.make_policy("smooth", env, beta=1.0)
    env.close()


@pytest.mark.parametrize("env_id", ["vworld/Reach-v0", "vworld/PointMaze-v0"])
def test_scripted_policy_reaches_env_goal(env_id):
    env = gym.make(env_id, render_size=16)
    successes = 0
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        policy = envs.make_policy("scripted", env, use_env_goal=True)
        policy.reset(np.random.default_rng(seed), env)
        for _ in range(150):
            obs, _, _, _, info = env.step(policy(obs, env))
        successes += info["success"]
    assert successes >= 3
    env.close()


def test_scripted_push_moves_block_to_goal_position():
    env = gym.make("vworld/Push-v0", render_size=16)
    near = 0
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        start_distance = info["distance"]
        policy = envs.make_policy("scripted", env, use_env_goal=True)
        policy.reset(np.random.default_rng(seed), env)
        for _ in range(200):
            obs, _, _, _, info = env.step(policy(obs, env))
        near += info["distance"] < min(0.05, 0.5 * start_distance)
    assert near >= 2
    env.close()
