"""The simulator oracle: plan with the true dynamics, to measure a perfect model's headroom.

It shares the planner and the protocol with the latent controller, but scores candidate
action sequences by simulating them, and reads the true start and goal states: a shortcut,
reported as one wherever its figure appears.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor

from planners import Planner

__all__ = ["OracleController", "OracleSimulator"]


class OracleSimulator:
    """Scores action sequences by simulating them in a private copy of the env's physics.

    Rendering dominates an env step (milliseconds against microseconds of physics), so the
    oracle steps the env's MuJoCo model on its own ``MjData`` exactly as ``GoalEnv.step``
    does (action clipped to [-1, 1] into ``ctrl``, ``frame_skip`` calls of ``mj_step``) and
    restores states in ``GoalEnv.get_state`` layout ``[qpos, qvel, act, qacc_warmstart]``;
    the task distance comes from the env's own ``task_distance``. A test checks that the
    states it reaches are bit-identical to stepping the env.

    Args:
        env: a native vworld task (``envs.GoalEnv``, unwrapped).
    """

    def __init__(self, env: Any) -> None:
        # Imported here, after ``envs`` has set MUJOCO_GL=egl, so that importing this module
        # never loads mujoco with the wrong GL backend.
        os.environ.setdefault("MUJOCO_GL", "egl")
        import envs

        if not isinstance(env, envs.GoalEnv):
            raise TypeError(
                "the oracle simulates envs.GoalEnv tasks only "
                f"(it mirrors GoalEnv.step), got {type(env).__name__}"
            )
        import mujoco

        self._mujoco = mujoco
        self.env = env
        self.model = env.model
        self.data = mujoco.MjData(self.model)
        self.frame_skip = int(env.frame_skip)

    def _write(self, state: np.ndarray) -> None:
        parts = self.env.split_state(state)
        d = self.data
        d.qpos[:] = parts["qpos"]
        d.qvel[:] = parts["qvel"]
        d.act[:] = parts["act"]
        d.ctrl[:] = 0.0
        self._mujoco.mj_forward(self.model, d)
        d.qacc_warmstart[:] = parts["qacc_warmstart"]  # mj_forward overwrites it

    def _read(self) -> np.ndarray:
        d = self.data
        return np.concatenate([d.qpos, d.qvel, d.act, d.qacc_warmstart]).astype(np.float64)

    def simulate(self, state: np.ndarray, actions: np.ndarray, action_block: int) -> np.ndarray:
        """States after each block of one sequence.

        Args:
            state: start sim state.
            actions: ``(H, A)`` block actions, each held ``action_block`` env steps.
            action_block: env steps per planned action.
        Returns:
            ``(H, sim_state_dim)`` states at the end of every block.
        """
        self._write(state)
        step = self._mujoco.mj_step
        out = []
        for a in actions:
            self.data.ctrl[:] = np.clip(a, -1.0, 1.0)
            for _ in range(action_block * self.frame_skip):
                step(self.model, self.data)
            out.append(self._read())
        return np.stack(out)

    def costs(
        self,
        state: np.ndarray,
        goal_state: np.ndarray,
        actions: np.ndarray,
        action_block: int,
        cost_on: str = "last",
    ) -> np.ndarray:
        """Task distance to the goal of ``(N, H, A)`` sequences: last block or summed."""
        out = np.empty(len(actions))
        for n, seq in enumerate(actions):
            states = self.simulate(state, seq, action_block)
            if cost_on == "last":
                out[n] = self.env.task_distance(states[-1], goal_state)
            else:
                out[n] = sum(self.env.task_distance(s, goal_state) for s in states)
        return out


class OracleController:
    """Plan with the true simulator (headroom baseline): same planner, true dynamics.

    Args:
        env: the ``envs.GoalEnv`` being controlled, unwrapped (its state and goal are read).
        planner: a ``planners`` planner on the CPU.
        action_block: env steps per planned action.
        receding_horizon: planned actions executed before replanning.
        cost_on: ``"last"`` or ``"all"`` as in :class:`CostConfig`.
        seed: seeds the planner's generator.
    """

    def __init__(
        self,
        env: Any,
        planner: Planner,
        action_block: int,
        receding_horizon: int = 1,
        cost_on: str = "last",
        seed: int = 0,
    ) -> None:
        self.env = env
        self.sim = OracleSimulator(env)
        self.planner = planner
        self.action_block = action_block
        self.receding_horizon = receding_horizon
        self.cost_on = cost_on
        self.seed = seed
        self._generator = torch.Generator(device=planner.device)
        self._prev: Tensor | None = None
        self.last_info: dict[str, Any] = {}

    def reset(self, goal_obs: dict[str, np.ndarray], seed: int | None = None) -> None:
        self._generator.manual_seed(self.seed if seed is None else seed)
        self._prev = None

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        state = self.env.get_state()
        goal = self.env.goal_state

        def cost_fn(actions: Tensor) -> Tensor:
            c = self.sim.costs(state, goal, actions.cpu().numpy(), self.action_block, self.cost_on)
            return torch.as_tensor(c, dtype=torch.float32, device=actions.device)

        init = None if self._prev is None else self.planner.shift(self._prev, self.receding_horizon)
        plan, info = self.planner.plan(cost_fn, init=init, generator=self._generator)
        self._prev = plan
        self.last_info = info
        return plan[: self.receding_horizon].cpu().numpy()
