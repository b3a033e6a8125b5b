"""Base class for vworld's MuJoCo goal-reaching environments.

The tasks follow the goal-image planning setting of V-JEPA 2-AC (Assran et al., 2025), PLDM
(Sobal et al., 2025) and DINO-WM (Zhou et al., 2024): an agent sees pixels (and its own
proprioception), is given one image of the goal configuration and is scored on reaching it.
Everything is written on the plain ``mujoco`` Python bindings (stable API of 3.x and 4.x:
``MjModel.from_xml_path``, ``MjData``, ``mj_step``, ``mj_forward``, ``Renderer``).

Interface shared by every env (Gymnasium API):

- ``obs = {"pixels": (H, W, 3) uint8, "state": (state_dim,) float32}`` with ``H = W =
  render_size`` (64 by default); the frame comes from the model's fixed top-down camera and
  never shows a goal marker, so a goal image and an observation are directly comparable.
- ``action_space = Box(-1, 1, (2,), float32)``; an action is clipped to [-1, 1] and written to
  ``data.ctrl`` (every actuator has ``ctrlrange="-1 1"``; its gear sets the force or torque).
  Each ``step`` advances the physics ``frame_skip`` times.
- ``get_state() -> float64`` full simulator state laid out as ``[qpos, qvel, act,
  qacc_warmstart]`` (see :meth:`GoalEnv.get_state`); ``set_state(state)`` restores it so that
  stepping afterwards is bit-identical to the original trajectory.
- ``set_goal(goal)`` takes a full sim state (length ``sim_state_dim``) or the task's goal
  configuration (length ``goal_dim``, see each env); ``goal_pixels()`` renders the goal state
  exactly as the env would render after ``set_state(goal_state)``.
- ``info["success"]`` (bool) and ``info["distance"]`` (float, the task distance that decides
  success) after every ``reset`` and ``step`` (``evaluate()`` gives them for the current
  state); ``sample_goal_state(rng)`` draws a reachable goal;
  ``task_distance(state_a, state_b)`` compares two full sim states on the task's terms.
- Episodes never terminate on success (``terminated`` is always False); truncation comes from
  ``max_episode_steps`` in the registration. The reward is ``-distance``.

``reset(seed=..., options=...)`` is deterministic: the same seed gives the same start state and
the same goal. ``options`` may hold ``"state"`` (a full sim state to start from) and ``"goal"``
(a sim state or goal configuration, as for ``set_goal``).

``gymnasium.make`` wraps the env (TimeLimit, OrderEnforcing, ...) and Gymnasium 1.x wrappers do
not forward attributes: call the methods above on ``env.unwrapped``.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from envs._gl import make_renderer


def reset_options(options: dict[str, Any] | None, env_name: str) -> dict[str, Any]:
    """A goal env's ``reset`` options, checked: only ``state`` and ``goal`` are known."""
    options = dict(options or {})
    unknown = set(options) - {"state", "goal"}
    if unknown:
        raise ValueError(
            f"envs/{env_name}.reset: unknown options {sorted(unknown)}; "
            "expected 'state' and/or 'goal'"
        )
    return options


def wrap_angle(x: np.ndarray | float) -> np.ndarray:
    """Wrap angles (radians) to [-pi, pi)."""
    return (np.asarray(x, dtype=np.float64) + np.pi) % (2.0 * np.pi) - np.pi


def asset_path(name: str) -> str:
    """Absolute path of an MJCF model shipped in ``envs/assets``."""
    return str(resources.files("envs").joinpath("assets", name))


class GoalStateMixin:
    """``set_goal`` and ``goal_state``, shared by the native envs and ``GoalImageAdapter``.

    The host class provides ``sim_state_dim``, ``goal_dim`` and ``config_to_state``, and
    invalidates its cached goal rendering through ``_goal_pixels``.
    """

    sim_state_dim: int
    goal_dim: int
    _goal_state: np.ndarray
    _goal_pixels: np.ndarray | None

    def config_to_state(self, config: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def set_goal(self, goal: np.ndarray) -> None:
        """Set the goal.

        Args:
            goal: either a sim state (length ``sim_state_dim``, as from ``get_state`` or
                ``sample_goal_state``) or a task configuration (length ``goal_dim``; turned
                into a state at rest by ``config_to_state``).
        """
        goal = np.asarray(goal, dtype=np.float64).ravel()
        if goal.shape == (self.sim_state_dim,):
            self._goal_state = goal.copy()
        elif goal.shape == (self.goal_dim,):
            self._goal_state = self.config_to_state(goal)
        else:
            raise ValueError(
                f"envs/{type(self).__name__}.set_goal: goal must have length {self.sim_state_dim} "
                f"(sim state) or {self.goal_dim} (goal configuration), got shape {goal.shape}"
            )
        self._goal_pixels = None

    @property
    def goal_state(self) -> np.ndarray:
        """The current goal as a full sim state (a copy)."""
        return self._goal_state.copy()


class GoalEnv(GoalStateMixin, gym.Env):
    """A MuJoCo goal-reaching task with pixel observations and goal images.

    Subclasses set ``xml_name`` and implement ``_proprio``, ``task_config``, ``_distances``,
    ``_is_success``, ``_sample_start`` and ``config_to_state``; the base class does the
    physics stepping, state save/restore, rendering and the Gymnasium plumbing.

    Args:
        render_size: height and width of the rendered frames in pixels.
        frame_skip: physics steps per env step (the control period is
            ``frame_skip * model.opt.timestep``).
        camera: name of the MJCF camera used for observations.
        render_mode: only ``"rgb_array"`` (``render()`` returns the observation frame).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}  # noqa: RUF012
    xml_name: str = ""
    #: Dimension of the task's goal configuration (e.g. 2 joint angles for Reach).
    goal_dim: int = 0

    def __init__(
        self,
        render_size: int = 64,
        frame_skip: int = 5,
        camera: str = "top",
        render_mode: str | None = "rgb_array",
    ) -> None:
        if int(render_size) <= 0:
            raise ValueError(f"render_size must be a positive int, got {render_size}")
        if int(frame_skip) <= 0:
            raise ValueError(f"frame_skip must be a positive int, got {frame_skip}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_size = int(render_size)
        self.frame_skip = int(frame_skip)
        self.render_mode = render_mode
        self.model = mujoco.MjModel.from_xml_path(asset_path(self.xml_name))
        # The offscreen framebuffer must be at least as large as the frames asked for.
        self.model.vis.global_.offwidth = max(self.model.vis.global_.offwidth, self.render_size)
        self.model.vis.global_.offheight = max(self.model.vis.global_.offheight, self.render_size)
        self.data = mujoco.MjData(self.model)
        self._scratch = mujoco.MjData(self.model)  # for rendering goal states
        self._camera = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if self._camera < 0:
            raise ValueError(f"envs/assets/{self.xml_name}: no camera named {camera!r}")
        self._renderer: mujoco.Renderer | None = None
        m = self.model
        self.sim_state_dim = m.nq + 2 * m.nv + m.na
        self.state_dim = len(self._proprio(self.data))
        self.action_space = spaces.Box(-1.0, 1.0, shape=(m.nu,), dtype=np.float32)
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(
                    0, 255, shape=(self.render_size, self.render_size, 3), dtype=np.uint8
                ),
                "state": spaces.Box(-np.inf, np.inf, shape=(self.state_dim,), dtype=np.float32),
            }
        )
        self._goal_state = self.get_state()
        self._goal_pixels: np.ndarray | None = None

    # ------------------------------------------------------------------ task (subclasses)
    def _proprio(self, data: mujoco.MjData) -> np.ndarray:
        """Proprioceptive state of the agent (float64; cast to float32 in the obs)."""
        raise NotImplementedError

    def task_config(self, state: np.ndarray | None = None) -> np.ndarray:
        """Task-space configuration (length ``goal_dim``) of a sim state (default: current)."""
        raise NotImplementedError

    def config_to_state(self, config: np.ndarray) -> np.ndarray:
        """A full sim state (at rest) whose task configuration is ``config``."""
        raise NotImplementedError

    def _distances(self, cfg: np.ndarray, goal_cfg: np.ndarray) -> dict[str, float]:
        """Task distances between two configurations; must contain ``"distance"``."""
        raise NotImplementedError

    def _is_success(self, dists: dict[str, float]) -> bool:
        raise NotImplementedError

    def _sample_start(self, rng: np.random.Generator) -> np.ndarray:
        """A full sim state to start an episode from."""
        raise NotImplementedError

    def sample_goal_state(self, rng: np.random.Generator) -> np.ndarray:
        """A random reachable goal, as a full sim state at rest (float64).

        Args:
            rng: the generator to draw from (``reset`` uses ``self.np_random``).
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def get_state(self) -> np.ndarray:
        """Full simulator state ``[qpos (nq), qvel (nv), act (na), qacc_warmstart (nv)]``.

        ``qacc_warmstart`` seeds MuJoCo's constraint solver, so it is needed for a bit-identical
        replay when contacts or joint limits are active. Returns a float64 copy.
        """
        d = self.data
        return np.concatenate([d.qpos, d.qvel, d.act, d.qacc_warmstart]).astype(np.float64)

    def _write_state(self, data: mujoco.MjData, state: np.ndarray) -> None:
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.sim_state_dim,):
            raise ValueError(
                f"envs/{type(self).__name__}: sim state must have shape ({self.sim_state_dim},) "
                f"= [qpos {self.model.nq}, qvel {self.model.nv}, act {self.model.na}, "
                f"qacc_warmstart {self.model.nv}], got {state.shape}"
            )
        m = self.model
        i = 0
        data.qpos[:] = state[i : i + m.nq]
        i += m.nq
        data.qvel[:] = state[i : i + m.nv]
        i += m.nv
        data.act[:] = state[i : i + m.na]
        i += m.na
        warm = state[i : i + m.nv].copy()
        data.ctrl[:] = 0.0
        mujoco.mj_forward(m, data)
        # mj_forward may overwrite the warm start; restore it for an exact replay.
        data.qacc_warmstart[:] = warm

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_state` (and recompute positions for rendering)."""
        self._write_state(self.data, state)

    def split_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Name the parts of a sim state: ``qpos``, ``qvel``, ``act``, ``qacc_warmstart``."""
        m = self.model
        s = np.asarray(state, dtype=np.float64)
        return {
            "qpos": s[: m.nq],
            "qvel": s[m.nq : m.nq + m.nv],
            "act": s[m.nq + m.nv : m.nq + m.nv + m.na],
            "qacc_warmstart": s[m.nq + m.nv + m.na :],
        }

    # ------------------------------------------------------------------ goals
    def goal_pixels(self) -> np.ndarray:
        """(H, W, 3) uint8 rendering of the goal state, identical to ``render()`` at that state."""
        if self._goal_pixels is None:
            self._write_state(self._scratch, self._goal_state)
            self._goal_pixels = self._render_data(self._scratch)
        return self._goal_pixels.copy()

    def task_distance(self, state_a: np.ndarray, state_b: np.ndarray) -> float:
        """The distance that decides success, between two full sim states."""
        return self._distances(self.task_config(state_a), self.task_config(state_b))["distance"]

    # ------------------------------------------------------------------ rendering
    def _render_data(self, data: mujoco.MjData) -> np.ndarray:
        if self._renderer is None:
            self._renderer = make_renderer(self.model, self.render_size, self.render_size)
        self._renderer.update_scene(data, camera=self._camera)
        return self._renderer.render().copy()

    def render(self) -> np.ndarray | None:
        """The current frame, (H, W, 3) uint8 (None when ``render_mode`` is None)."""
        if self.render_mode is None:
            return None
        return self._render_data(self.data)

    # ------------------------------------------------------------------ gym API
    def _obs(self) -> dict[str, np.ndarray]:
        return {
            "pixels": self._render_data(self.data),
            "state": self._proprio(self.data).astype(np.float32),
        }

    def evaluate(self) -> dict[str, Any]:
        """Success and distances of the current state to the goal (what ``step`` puts in info)."""
        dists = self._distances(self.task_config(), self.task_config(self._goal_state))
        info: dict[str, Any] = {k: float(v) for k, v in dists.items()}
        info["success"] = bool(self._is_success(dists))
        return info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start an episode: a sampled (or given) start state and goal.

        Args:
            seed: seeds ``self.np_random``; the same seed gives the same start and goal.
            options: optional ``{"state": sim state, "goal": sim state or goal config}``.
        """
        super().reset(seed=seed)
        options = reset_options(options, type(self).__name__)
        # Draw start then goal so that both are fixed by the seed whatever the options.
        start = self._sample_start(self.np_random)
        goal = self.sample_goal_state(self.np_random)
        mujoco.mj_resetData(self.model, self.data)
        self.set_state(options.get("state", start))
        self.set_goal(options.get("goal", goal))
        return self._obs(), self.evaluate()

    def advance(self, action: np.ndarray) -> None:
        """``step``'s physics alone: no frame is rendered and nothing is returned (for
        simulating many candidate plans; ``get_state``/``render`` read the outcome)."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (self.model.nu,):
            raise ValueError(
                f"envs/{type(self).__name__}.step: action must have shape ({self.model.nu},), "
                f"got {np.shape(action)}"
            )
        self.data.ctrl[:] = np.clip(a, -1.0, 1.0)
        for _ in range(self.frame_skip):
            mujoco.mj_step(self.model, self.data)

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Apply ``action`` (clipped to [-1, 1]) for ``frame_skip`` physics steps."""
        self.advance(action)
        info = self.evaluate()
        return self._obs(), -info["distance"], False, False, info

    def close(self) -> None:
        """Free the renderer (its GL context)."""
        if self._renderer is not None:
            close = getattr(self._renderer, "close", None)  # absent in some mujoco 3.x
            if close is not None:
                close()
            self._renderer = None
        super().close()
