"""The goal of a planning episode, as the protocol draws it.

Each episode starts from the env's reset with a fixed seed. Its goal is the state a random
(or scripted) policy reaches ``goal_offset_steps`` env steps from that start (``offset``:
reachable by construction), a state drawn by the env (``sample``), or, for swm's protocol, a
state ``goal_offset_steps`` ahead in a recorded episode (``dataset``). The goal image is the
env's rendering of the goal state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vworld.eval.mpc import goal_api

__all__ = ["make_goal"]


def make_goal(
    env: Any, seed: int, cfg: Any
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """Reset episode ``seed`` and give it a goal, as the protocol says.

    ``cfg`` is the harness's ``PlanConfig`` (its ``goal_*``, ``action_block`` and ``seed``).

    Returns:
        ``(obs, info, goal_obs, goal_state)``: the start observation and info (with the goal
        set), the goal observation (``pixels`` = ``env.goal_pixels()``, ``state`` =
        proprioception at the goal) and the goal's full sim state.
    """
    if cfg.goal_source == "dataset":
        from vworld.eval.swm_protocol import dataset_goal

        return dataset_goal(env, seed - cfg.seed, cfg)
    u = goal_api(env)
    obs, _ = env.reset(seed=seed)
    start = u.get_state()
    rng = np.random.default_rng([seed, 1])
    if cfg.goal_source == "offset" and cfg.goal_policy == "scripted":
        from envs.policies import make_policy

        policy = make_policy("scripted", env)
        policy.reset(rng, env)
        for _ in range(cfg.goal_offset_steps):
            obs, *_ = env.step(policy(obs, env))
        goal_state = u.get_state()
    elif cfg.goal_source == "offset":
        low, high = env.action_space.low, env.action_space.high
        for t in range(cfg.goal_offset_steps):
            if t % cfg.action_block == 0:
                a = rng.uniform(low, high).astype(np.float32)
            env.step(a)
        goal_state = u.get_state()
    else:
        goal_state = np.asarray(u.sample_goal_state(rng), dtype=np.float64)
    goal_obs, _ = env.reset(seed=seed, options={"state": goal_state, "goal": goal_state})
    goal_obs = {"pixels": u.goal_pixels(), "state": goal_obs["state"]}
    obs, info = env.reset(seed=seed, options={"state": start, "goal": goal_state})
    if not np.array_equal(u.get_state(), start):
        raise RuntimeError(f"{cfg.env} did not restore the start state")
    return obs, info, goal_obs, goal_state
