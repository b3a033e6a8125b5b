"""Goal-image interface for standard Gymnasium MuJoCo envs (Reacher-v5, Pusher-v5, ...).

``GoalImageAdapter`` wraps an env built on ``gymnasium.envs.mujoco.MujocoEnv`` (anything whose
unwrapped env has ``model``, ``data`` and ``set_state(qpos, qvel)``) so that it offers the same
interface as vworld's own envs (see ``envs/base.py``): ``{"pixels", "state"}`` observations from
a fixed camera, ``get_state``/``set_state`` with the layout ``[qpos, qvel, act,
qacc_warmstart]``, ``set_goal``, ``goal_pixels``, ``sample_goal_state``, ``task_distance`` and
``info["success"]``/``info["distance"]``. Goal markers of the wrapped env are hidden, so a goal
image and an observation are comparable. Actions in [-1, 1] are mapped linearly onto the wrapped
env's action box. The wrapped env's reward is kept as ``info["env_reward"]``; the reward returned
is ``-distance``.

A task is described by a ``TaskSpec``; ``TASKS`` holds the ones for Reacher-v5 (goal: the two
joint angles, success within 0.05 rad) and Pusher-v5 (goal: the object position, success within
0.03 m). The interface follows the goal-image planning setting of V-JEPA 2-AC (Assran et al.,
2025).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs._gl import make_renderer
from envs.base import GoalStateMixin, wrap_angle


@dataclass
class TaskSpec:
    """How to read a goal-reaching task out of a wrapped MuJoCo env.

    Args:
        goal_qpos: qpos indices of the task configuration (what must match the goal).
        state_qpos: qpos indices of the proprioceptive state (``state = [qpos[i], qvel[i]]``,
            qvel at the same indices, valid for hinge and slide joints).
        threshold: success when the distance is below this.
        metric: ``"angle_max"`` (largest wrapped angle error) or ``"euclid"``.
        hide_bodies: bodies whose geoms are made invisible (goal markers).
        camera: free-camera settings ``lookat``, ``distance``, ``azimuth``, ``elevation``.
        goal_low, goal_high: box the goal configuration is drawn from.
    """

    goal_qpos: tuple[int, ...]
    state_qpos: tuple[int, ...]
    threshold: float
    metric: str
    hide_bodies: tuple[str, ...] = ()
    camera: dict[str, Any] = field(default_factory=dict)
    goal_low: tuple[float, ...] = ()
    goal_high: tuple[float, ...] = ()


TASKS: dict[str, TaskSpec] = {
    "Reacher": TaskSpec(
        goal_qpos=(0, 1),
        state_qpos=(0, 1),
        threshold=0.05,
        metric="angle_max",
        hide_bodies=("target",),
        camera={"lookat": (0.0, 0.0, 0.0), "distance": 0.8, "azimuth": 90.0, "elevation": -90.0},
        goal_low=(-np.pi, -2.8),
        goal_high=(np.pi, 2.8),
    ),
    "Pusher": TaskSpec(
        goal_qpos=(7, 8),
        state_qpos=(0, 1, 2, 3, 4, 5, 6),
        threshold=0.03,
        metric="euclid",
        hide_bodies=("goal",),
        camera={"lookat": (0.3, -0.2, -0.3), "distance": 1.6, "azimuth": 90.0, "elevation": -90.0},
        goal_low=(-0.3, -0.2),
        goal_high=(0.0, 0.2),
    ),
}


def _task_for(env: gym.Env) -> TaskSpec:
    spec = env.spec
    name = spec.name if spec is not None else type(env.unwrapped).__name__
    for key, task in TASKS.items():
        if name.startswith(key) or type(env.unwrapped).__name__.startswith(key):
            return task
    raise ValueError(
        f"no TaskSpec for env {name!r}; pass task=TaskSpec(...) (known: {sorted(TASKS)})"
    )


class GoalImageAdapter(GoalStateMixin, gym.Wrapper):
    """Give a Gymnasium MuJoCo env vworld's goal-image interface.

    Args:
        env: a Gymnasium env whose unwrapped env has ``model``, ``data`` and
            ``set_state(qpos, qvel)`` (e.g. ``gymnasium.make("Reacher-v5")``).
        task: the task description; looked up in ``TASKS`` by env name when None.
        render_size: height and width of the frames in pixels.
        goal_sampler: optional ``rng -> goal configuration``; by default uniform in the task box.
    """

    def __init__(
        self,
        env: gym.Env,
        task: TaskSpec | None = None,
        render_size: int = 64,
        goal_sampler: Callable[[np.random.Generator], np.ndarray] | None = None,
    ) -> None:
        super().__init__(env)
        base = env.unwrapped
        if not all(hasattr(base, a) for a in ("model", "data", "set_state")):
            raise TypeError(
                f"{type(base).__name__} is not a MuJoCo env with model, data and "
                "set_state(qpos, qvel)"
            )
        self.task = task if task is not None else _task_for(env)
        if self.task.metric not in ("angle_max", "euclid"):
            raise ValueError(
                f"TaskSpec.metric must be 'angle_max' or 'euclid', got {self.task.metric!r}"
            )
        self.render_size = int(render_size)
        self.goal_sampler = goal_sampler
        self.model: mujoco.MjModel = base.model
        self.data: mujoco.MjData = base.data
        m = self.model
        for body in self.task.hide_bodies:
            bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, body)
            if bid < 0:
                raise ValueError(f"TaskSpec.hide_bodies: no body named {body!r}")
            m.geom_rgba[m.geom_bodyid == bid, 3] = 0.0
        m.vis.global_.offwidth = max(m.vis.global_.offwidth, self.render_size)
        m.vis.global_.offheight = max(m.vis.global_.offheight, self.render_size)
        self._cam = mujoco.MjvCamera()
        self._cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        for k, v in self.task.camera.items():
            if k == "lookat":
                self._cam.lookat[:] = v
            else:
                setattr(self._cam, k, v)
        self._renderer: mujoco.Renderer | None = None
        self._scratch = mujoco.MjData(m)
        self.sim_state_dim = m.nq + 2 * m.nv + m.na
        self.goal_dim = len(self.task.goal_qpos)
        self.state_dim = 2 * len(self.task.state_qpos)
        self._low = np.asarray(env.action_space.low, dtype=np.float64)
        self._high = np.asarray(env.action_space.high, dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=env.action_space.shape, dtype=np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (self.render_size, self.render_size, 3), np.uint8),
                "state": spaces.Box(-np.inf, np.inf, (self.state_dim,), np.float32),
            }
        )
        self._goal_state = self.get_state()
        self._goal_pixels: np.ndarray | None = None

    # ------------------------------------------------------------------ state
    def get_state(self) -> np.ndarray:
        """Full sim state ``[qpos, qvel, act, qacc_warmstart]`` (float64 copy)."""
        d = self.data
        return np.concatenate([d.qpos, d.qvel, d.act, d.qacc_warmstart]).astype(np.float64)

    def _split(self, state: np.ndarray) -> tuple[np.ndarray, ...]:
        m = self.model
        s = np.asarray(state, dtype=np.float64)
        if s.shape != (self.sim_state_dim,):
            raise ValueError(f"sim state must have shape ({self.sim_state_dim},), got {s.shape}")
        i, j, k = m.nq, m.nq + m.nv, m.nq + m.nv + m.na
        return s[:i], s[i:j], s[j:k], s[k:]

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_state`; later steps replay bit for bit."""
        qpos, qvel, act, warm = self._split(state)
        self.env.unwrapped.set_state(qpos.copy(), qvel.copy())
        self.data.act[:] = act
        mujoco.mj_forward(self.model, self.data)
        self.data.qacc_warmstart[:] = warm

    def task_config(self, state: np.ndarray | None = None) -> np.ndarray:
        """The task configuration (``qpos[task.goal_qpos]``) of a sim state (default: current)."""
        qpos = self.data.qpos if state is None else self._split(state)[0]
        return np.asarray(qpos[list(self.task.goal_qpos)], dtype=np.float64)

    def _distance(self, cfg: np.ndarray, goal: np.ndarray) -> float:
        if self.task.metric == "angle_max":
            return float(np.max(np.abs(wrap_angle(cfg - goal))))
        return float(np.linalg.norm(cfg - goal))

    def task_distance(self, state_a: np.ndarray, state_b: np.ndarray) -> float:
        """The distance that decides success, between two sim states."""
        return self._distance(self.task_config(state_a), self.task_config(state_b))

    # ------------------------------------------------------------------ goals
    def config_to_state(self, config: np.ndarray) -> np.ndarray:
        """The current sim state with the task configuration replaced by ``config``, at rest."""
        m = self.model
        state = self.get_state()
        state[list(self.task.goal_qpos)] = np.asarray(config, dtype=np.float64)
        state[m.nq :] = 0.0  # velocities, activations and warm start
        return state

    def sample_goal_state(self, rng: np.random.Generator) -> np.ndarray:
        """A goal sim state: a random task configuration, everything else as now, at rest."""
        if self.goal_sampler is not None:
            cfg = np.asarray(self.goal_sampler(rng), dtype=np.float64)
        else:
            cfg = rng.uniform(self.task.goal_low, self.task.goal_high)
        return self.config_to_state(cfg)

    def goal_pixels(self) -> np.ndarray:
        """Rendering of the goal state, identical to ``render()`` after ``set_state(goal)``."""
        if self._goal_pixels is None:
            qpos, qvel, act, _ = self._split(self._goal_state)
            self._scratch.qpos[:] = qpos
            self._scratch.qvel[:] = qvel
            self._scratch.act[:] = act
            mujoco.mj_forward(self.model, self._scratch)
            self._goal_pixels = self._render_data(self._scratch)
        return self._goal_pixels.copy()

    # ------------------------------------------------------------------ gym API
    def _render_data(self, data: mujoco.MjData) -> np.ndarray:
        if self._renderer is None:
            self._renderer = make_renderer(self.model, self.render_size, self.render_size)
            # Shadows and reflections cost most of the frame time and carry no task information.
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            self._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        self._renderer.update_scene(data, camera=self._cam)
        return self._renderer.render().copy()

    def render(self) -> np.ndarray:
        """The current frame, (H, W, 3) uint8."""
        return self._render_data(self.data)

    def _obs(self) -> dict[str, np.ndarray]:
        idx = list(self.task.state_qpos)
        state = np.concatenate([self.data.qpos[idx], self.data.qvel[idx]]).astype(np.float32)
        return {"pixels": self.render(), "state": state}

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        dist = self._distance(self.task_config(), self.task_config(self._goal_state))
        return {**info, "distance": dist, "success": bool(dist < self.task.threshold)}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the wrapped env, then draw a goal from its ``np_random`` (same seed, same goal)."""
        _, info = self.env.reset(seed=seed, options=options)
        self.set_goal(self.sample_goal_state(self.env.unwrapped.np_random))
        return self._obs(), self._info(info)

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Map ``action`` from [-1, 1] onto the wrapped action box and step."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        a = self._low + (a + 1.0) * 0.5 * (self._high - self._low)
        _, reward, terminated, truncated, info = self.env.step(a.astype(np.float32))
        info = self._info({**info, "env_reward": float(reward)})
        return self._obs(), -info["distance"], terminated, truncated, info

    def close(self) -> None:
        """Free the renderer, then close the wrapped env."""
        if self._renderer is not None:
            close = getattr(self._renderer, "close", None)  # absent in some mujoco 3.x
            if close is not None:
                close()
            self._renderer = None
        super().close()
