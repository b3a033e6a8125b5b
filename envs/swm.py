"""vworld's goal-env interface for stable-worldmodel's ``swm/...`` tasks.

stable-worldmodel (Maes, Le Lidec and Balestriero; PyPI ``stable-worldmodel``, import
``stable_worldmodel``) is the benchmark where LeWM, PLDM and DINO-WM are re-run under one
protocol. ``make_swm("swm/TwoRoom-v1")`` builds :class:`SwmGoalEnv`, which owns the swm env and
offers what vworld's envs do (see ``envs/base.py``): ``{"pixels", "state"}`` observations,
``get_state``/``set_state``, ``set_goal``, ``goal_state``, ``goal_pixels``, ``task_distance``,
``sample_goal_state`` (a goal as swm's reset draws one) and ``info["success"]``/
``info["distance"]``. Being the unwrapped env, it is found by
``env.unwrapped`` (the collector) and by ``vworld.eval.mpc.goal_api`` (the harness).

What each part is, in swm's own terms (``TASKS`` holds one :class:`SwmTask` per env class):

- frames: the env's ``render()`` (224 x 224) resized to ``render_size`` with PIL's bilinear
  filter, as swm's ``World`` resizes ``pixels``, so both harnesses see the same bytes;
- ``state`` (proprioception): swm's ``proprio`` (TwoRoom: the agent's position; PushT: the
  agent's position and velocity);
- the sim state of ``get_state``: what swm's ``_set_state`` takes and its datasets call
  ``state`` (TwoRoom: the agent's position, 2; PushT: agent, block position and angle, agent
  velocity, 7). ``set_state`` calls ``_set_state``: exact for TwoRoom; PushT's also runs its
  physics one 10 ms substep (as swm's evaluation does) and keeps the block's velocity;
- the goal: a sim state, set with swm's ``_set_goal_state``; the goal image is the env rendered
  at the goal state through swm's own API (TwoRoom: the ``_target_img`` that
  ``_set_goal_state`` draws; PushT: the ``goal`` that ``reset(options={"state": g,
  "goal_state": g})`` renders, on a private copy of the env);
- success: swm's ``terminated`` after a step (TwoRoom: the agent within 16 px of the goal;
  PushT: agent and block within 20 px, in one 4-d norm, and the angle within pi/9). At reset,
  ``info["success"]`` is the same test at the start state (it tells trivial episodes; the
  harness counts success only after executed steps). ``info["distance"]``: TwoRoom the
  agent-goal distance in pixels; PushT the larger of the 4-d position error and the angle's
  error at 20 px per pi/9, below 20 px exactly when it succeeds (swm's own ``eval_state``
  distance is the 7-d state norm, which counts the agent's velocity).

``reset(seed=..., options=...)`` is swm's ``reset(seed)`` followed, for ``options={"state": s,
"goal": g}``, by ``_set_state(s)`` and ``_set_goal_state(g)``: the two calls swm's
``World.evaluate`` makes from a dataset. Actions in [-1, 1] are mapped onto the env's box.

``TASKS`` (``envs/swm_tasks.py``) holds TwoRoom, PushT, ReacherDMControl and OGBCube (one
cube). The DMC tasks and OGBench's need ``dm_control``, which does not work with MuJoCo 4: the
``swm-dmc`` extra installs it, and ``ogbench``, with MuJoCo 3.x. swm is imported only when an
env is made: ``import envs`` works without the ``swm`` extra.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.base import reset_options
from envs.swm_tasks import ENV_KWARGS, TASKS, SwmTask, task_for

__all__ = ["TASKS", "SwmGoalEnv", "SwmTask", "import_swm", "make_swm", "task_for"]

INSTALL_HINT = "pip install 'vworld[swm]' (stable-worldmodel, pymunk, shapely, pygame, opencv)"


def import_swm() -> Any:
    """Import ``stable_worldmodel`` (registers the ``swm/...`` ids), or say how to install it."""
    try:
        with warnings.catch_warnings():
            # swm warns on import about every optional env family it cannot load (ALE, ...).
            warnings.filterwarnings("ignore", message=".*not found.*", category=UserWarning)
            return importlib.import_module("stable_worldmodel")
    except ImportError as e:
        raise ImportError(f"the swm/ envs need stable-worldmodel: {INSTALL_HINT}") from e


def resize_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(size, size, 3)`` with PIL's bilinear filter, as swm's World."""
    from PIL import Image

    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    if frame.shape[:2] == (size, size):
        return frame.copy()
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR))


# ---------------------------------------------------------------------------------- env
class SwmGoalEnv(gym.Env):
    """An swm env with vworld's goal-env interface (see the module docstring).

    Args:
        env: the swm env, as made by ``gymnasium.make("swm/...")`` (it is reset and stepped
            through its wrappers; its unwrapped env is read and given states and goals).
        render_size: height and width of the frames in pixels.
        scratch: zero-argument factory of a private unwrapped copy of the env, used to render
            goals where the env has no way to render another state (PushT); by default
            ``gymnasium.make(env.spec.id, **env.spec.kwargs).unwrapped``.
        reset: reset ``env`` once now, so that its state is defined before the first
            ``reset`` (as in vworld's envs); False to view an env that something else drives
            (an env of swm's ``World``), which is then never reset or stepped from here.
    """

    def __init__(
        self,
        env: gym.Env,
        render_size: int = 64,
        scratch: Callable[[], Any] | None = None,
        reset: bool = True,
    ) -> None:
        if int(render_size) <= 0:
            raise ValueError(f"render_size: must be a positive int, got {render_size}")
        self.env = env
        self.base = env.unwrapped
        self.task = task_for(self.base)
        self.render_size = int(render_size)
        self.render_mode = "rgb_array"
        self.metadata = dict(self.base.metadata)
        self._scratch_factory = scratch
        self._scratch: Any = None
        box = env.action_space
        if not isinstance(box, spaces.Box):
            raise ValueError(f"env: {self.task.env_class} has a non-Box action space {box}")
        self._low = np.asarray(box.low, dtype=np.float64)
        self._high = np.asarray(box.high, dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=box.shape, dtype=np.float32)
        self.sim_state_dim = self.goal_dim = self.task.sim_state_dim
        self.state_dim = self.task.state_dim
        self.success_threshold = self.task.success_threshold
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (self.render_size, self.render_size, 3), np.uint8),
                "state": spaces.Box(-np.inf, np.inf, (self.state_dim,), np.float32),
            }
        )
        self._goal_pixels: np.ndarray | None = None
        self._goal_key: bytes | None = None
        if reset:
            self.env.reset()

    # ------------------------------------------------------------------ state
    def _check(self, state: np.ndarray, what: str) -> np.ndarray:
        s = np.asarray(state, dtype=np.float64).ravel()
        if s.shape != (self.sim_state_dim,):
            raise ValueError(
                f"{what}: a {self.task.env_class} sim state has length "
                f"{self.sim_state_dim} (swm's state), got shape {np.shape(state)}"
            )
        return s

    def get_state(self) -> np.ndarray:
        """swm's state of the env now (float64 copy; what ``_set_state`` takes)."""
        return self.task.state(self.base).copy()

    def set_state(self, state: np.ndarray) -> None:
        """Put the env in ``state`` (swm's ``_set_state``, or the task's own ``set_state``)."""
        self.task.set_state(self.base, self._check(state, "state"))

    def set_goal(self, goal: np.ndarray) -> None:
        """Set the goal (a sim state; swm's ``_set_goal_state``, or the task's ``set_goal``)."""
        self.task.set_goal(self.base, self._check(goal, "goal"))

    @property
    def goal_state(self) -> np.ndarray:
        """The current goal as a sim state (a copy)."""
        return self.task.goal(self.base).copy()

    def sample_goal_state(self, rng: np.random.Generator) -> np.ndarray:
        """A goal as swm's own reset draws one (on the private copy), seeded from ``rng``."""
        scratch = self._make_scratch()
        scratch.reset(seed=int(rng.integers(2**31 - 1)))
        return self.task.goal(scratch).copy()

    def task_distance(self, state_a: np.ndarray, state_b: np.ndarray) -> float:
        """The env's own distance between two sim states (``state_b`` taken as the goal)."""
        a, b = self._check(state_a, "state_a"), self._check(state_b, "state_b")
        return self.task.distance(self.base, a, b)

    # ------------------------------------------------------------------ frames
    def _make_scratch(self) -> Any:
        if self._scratch is None:
            if self._scratch_factory is not None:
                self._scratch = self._scratch_factory()
            else:
                spec = self.env.spec
                if spec is None:
                    raise ValueError(
                        f"env: {self.task.env_class} has no spec to copy for goal "
                        "renders; pass scratch=..."
                    )
                self._scratch = gym.make(
                    spec.id, disable_env_checker=True, **dict(spec.kwargs)
                ).unwrapped
        return self._scratch

    def goal_pixels(self) -> np.ndarray:
        """(S, S, 3) uint8: the env rendered at the goal state through swm's API, resized."""
        goal = self.goal_state
        if self._goal_pixels is None or self._goal_key != goal.tobytes():
            frame = self.task.goal_frame(self.base, goal, self._make_scratch)
            self._goal_pixels = resize_frame(frame, self.render_size)
            self._goal_key = goal.tobytes()
        return self._goal_pixels.copy()

    def render(self) -> np.ndarray:
        """The current frame, (S, S, 3) uint8."""
        return resize_frame(self.task.render(self.base), self.render_size)

    def observe(self) -> dict[str, np.ndarray]:
        """The observation of the current state: ``{"pixels", "state"}``."""
        state = self.task.proprio(self.task.state(self.base)).astype(np.float32)
        return {"pixels": self.render(), "state": state}

    def evaluate(self) -> dict[str, Any]:
        """``success`` (the env's own test) and ``distance`` of the current state to the goal."""
        s, g = self.task.state(self.base), self.task.goal(self.base)
        return {
            "distance": self.task.distance(self.base, s, g),
            "success": self.task.success(self.base, s, g),
        }

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """swm's ``reset(seed)``, then ``_set_state``/``_set_goal_state`` from ``options``.

        Args:
            seed: seeds the swm env's reset (its start and goal).
            options: optional ``{"state": sim state, "goal": sim state}``.
        """
        super().reset(seed=seed)
        options = reset_options(options, type(self).__name__)
        swm_options = None
        if self.task.seeded_variations and seed is not None:
            # swm's OGBench envs draw their start and target from a variation space they
            # reseed at random, and pass reset's seed on to nothing: both are seeded here
            space = self.base.variation_space
            space.seed(int(seed))
            space.reset()
            space.update(self.task.seeded_variations)
            swm_options = {"variation_values": space.value}
            self.base.np_random, _ = gym.utils.seeding.np_random(int(seed))
        # its info describes the state before the options
        self.env.reset(seed=seed, options=swm_options)
        if "state" in options:
            self.set_state(options["state"])
        if "goal" in options:
            self.set_goal(options["goal"])
        return self.observe(), self.evaluate()

    def keep_near(self, action: np.ndarray) -> np.ndarray:
        """``action`` (in [-1, 1]) under the task's exploration constraint (``SwmTask.near``;
        PushT: the agent's target kept within 100 px of the block, as swm's ``WeakPolicy``)."""
        if self.task.near is None:
            raise ValueError(
                f"policy: smooth-near needs a task with an exploration constraint; "
                f"{self.task.env_class} has none (PushT has one)"
            )
        box = np.asarray(self.task.near(self.base, self._to_box(action)), dtype=np.float64)
        return (2.0 * (box - self._low) / (self._high - self._low) - 1.0).astype(np.float32)

    def _to_box(self, action: np.ndarray) -> np.ndarray:
        """An action in [-1, 1] (clipped) mapped onto the env's own box."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        return self._low + (a + 1.0) * 0.5 * (self._high - self._low)

    def advance(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """``step``'s physics alone: ``action`` (in [-1, 1]) mapped onto the env's box and
        stepped, with no frame rendered (for simulating many candidate plans); swm's own step
        tuple."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != self.action_space.shape:
            raise ValueError(
                f"action: must have shape {self.action_space.shape}, got {np.shape(action)}"
            )
        return self.env.step(self._to_box(a).astype(np.float32))

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Map ``action`` from [-1, 1] onto the env's box and step; success is ``terminated``.

        ``info`` holds swm's own step info (less its ``goal`` image) with ``env_reward``,
        ``distance`` and ``success``.
        """
        _, reward, terminated, truncated, info = self.advance(action)
        dist = self.evaluate()["distance"]
        # swm's "goal" image is the one its reset drew (goal_pixels() renders the goal set here)
        info = {k: v for k, v in info.items() if k != "goal"}
        info.update(env_reward=float(reward), distance=dist, success=bool(terminated))
        return self.observe(), -dist, bool(terminated), bool(truncated), info

    def close(self) -> None:
        """Close the private copy and the swm env."""
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None
        self.env.close()
        super().close()


def make_swm(
    env_id: str,
    render_size: int = 64,
    max_episode_steps: int | None = None,
    frame_skip: int | None = None,
    **kwargs: Any,
) -> gym.Env:
    """Make an ``swm/...`` env with vworld's goal-env interface.

    Args:
        env_id: the swm Gymnasium id (``"swm/TwoRoom-v1"``, ``"swm/PushT-v1"``).
        render_size: frame height and width (frames are rendered at 224 and resized).
        max_episode_steps: wraps the env in a ``TimeLimit`` when given.
        frame_skip: must be None: swm's envs step at their own control rate.
        **kwargs: passed to ``gymnasium.make`` for the swm env, over ``ENV_KWARGS[env_id]``.
    """
    if frame_skip is not None:
        raise ValueError(
            f"frame_skip: {env_id} steps at its own control rate (no frame_skip); "
            f"leave it unset, got {frame_skip}"
        )
    import_swm()
    if env_id not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("swm/"))
        raise ValueError(f"env: {env_id!r} is not a registered swm id; known: {known}")
    kwargs = {**ENV_KWARGS.get(env_id, {}), **kwargs}
    env: gym.Env = SwmGoalEnv(
        gym.make(env_id, disable_env_checker=True, **kwargs), render_size=render_size
    )
    if max_episode_steps is not None:
        env = gym.wrappers.TimeLimit(env, max_episode_steps=int(max_episode_steps))
    return env
