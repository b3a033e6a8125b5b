"""stable-worldmodel's own expert policies, acting in one :class:`envs.swm.SwmGoalEnv`."""

from __future__ import annotations

import importlib

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space

from envs.swm import SwmGoalEnv

__all__ = ["SwmExpert"]


class _PoolOfOne:
    """The vectorised-env face swm's expert policies expect (``envs``, batched spaces)."""

    def __init__(self, env: gym.Env) -> None:
        self.envs = [env]
        self.num_envs = 1
        self.spec = env.spec
        self.single_action_space = env.action_space
        self.action_space = batch_space(env.action_space, 1)


class SwmExpert:
    """swm's expert policy of a :class:`SwmGoalEnv`'s task, acting in that one env.

    It sees what swm's ``World`` gives a policy: ``state``, ``goal_state`` and ``proprio`` in
    swm's layout (TwoRoom's expert heads for the door, then the goal; PushT's ``WeakPolicy``
    moves at random near the block, blind to the goal).

    Args:
        env: the :class:`SwmGoalEnv` (unwrapped).
        seed: seeds the expert's own generator.
        noise: the expert's action noise (TwoRoom: ``action_noise``, the standard deviation
            added to its unit-length action); the task's default (swm's data-collection
            setting) when None.
    """

    def __init__(self, env: SwmGoalEnv, seed: int, noise: float | None = None) -> None:
        task = env.task
        if not task.expert:
            raise ValueError(f"policy: swm has no expert policy for {task.env_class}")
        kwargs = dict(task.expert_kwargs)
        if noise is not None:
            if task.expert_noise_arg is None:
                raise ValueError(f"noise: {task.expert} of {task.env_class} takes no noise")
            kwargs[task.expert_noise_arg] = float(noise)
        module, name = task.expert.split(":")
        cls = getattr(importlib.import_module(module), name)
        self.env = env
        self.policy = cls(seed=int(seed), **kwargs)
        self.policy.set_env(_PoolOfOne(env.env))
        self._step = 0
        # OGBench's oracles draw from numpy's global generator: it gets a state of its own here
        self._global_rng = np.random.RandomState(int(seed)).get_state()

    def act(self) -> np.ndarray:
        """The expert's action for the env's current state and goal, ``(A,)`` float32."""
        task = self.env.task
        if task.expert_info is not None:
            info = task.expert_info(self.env.base, self._step)
        else:
            state = self.env.get_state()
            info = {
                "state": state[None],
                "goal_state": self.env.goal_state[None],
                "proprio": task.proprio(state)[None],
            }
        # the legacy global generator is what the oracles draw from (hence the noqa)
        saved = np.random.get_state()  # noqa: NPY002
        np.random.set_state(self._global_rng)  # noqa: NPY002
        try:
            a = np.asarray(self.policy.get_action(info), dtype=np.float32)
        finally:
            self._global_rng = np.random.get_state()  # noqa: NPY002
            np.random.set_state(saved)  # noqa: NPY002
        self._step += 1
        return a.reshape(self.env.action_space.shape)
