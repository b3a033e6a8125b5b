"""vworld's planners as a stable-worldmodel policy, so that swm's ``World.evaluate`` runs them.

:class:`ControllerPolicy` implements swm's ``BasePolicy``: ``World`` calls
``get_action(infos)`` with one row per env and gets one action per env. Each env has its own
:class:`vworld.eval.mpc.Controller` (a ``LatentController``, ``RandomController``, ...), which
plans ``(k, A)`` block actions; each is held ``action_block`` env steps, and the controller
plans again when they are spent, as ``vworld.eval.mpc.run_episode`` does.

What a controller sees is what it sees in vworld's harness, so that one model and one set of
episodes give the same successes in both (``evaluate_in_world`` runs the protocol of
``vworld/eval/swm_protocol.py`` in a ``World``):

- observations: ``infos["pixels"]`` (swm resizes the 224-pixel render with PIL's bilinear
  filter, as ``envs.swm`` does) and ``infos["proprio"]``. At an episode's first step
  ``World.evaluate``'s infos hold the dataset's recorded (video-decoded) start frame; with
  ``start_frame="env"`` the env is rendered there instead, which is what vworld's harness sees;
- the goal: ``goal_image="env"`` renders the env at its goal state through swm's own API
  (``envs.swm.SwmGoalEnv.goal_pixels``, as vworld's harness does); ``"info"`` takes World's
  ``goal`` (in dataset mode the recorded goal frame). The goal's proprioception is that of the
  env's goal state;
- seeds: env ``i``'s ``n``-th episode (counted over all envs, in the order they start) resets
  its controller with ``seed + n``; in dataset mode env ``i`` runs protocol episode ``i``, seeded
  ``seed + i`` as in vworld's harness.

Needs the ``swm`` extra (this module imports ``stable_worldmodel``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from envs.swm import SwmGoalEnv, import_swm
from vworld.eval.mpc import Controller

swm = import_swm()

__all__ = ["ControllerPolicy", "controller_factory", "evaluate_in_world"]

GOAL_IMAGES = ("env", "info")
START_FRAMES = ("env", "info")


class ControllerPolicy(swm.policy.BasePolicy):
    """A vworld controller per env of an swm ``World``.

    Args:
        make_controller: returns a fresh controller (one is made per env).
        action_block: env steps each action a controller returns is held for
            (``PlanConfig.hold_steps``: 1 when it returns one action per env step).
        render_size: frame size; must be the World's ``image_shape``.
        seed: episode ``n`` resets its controller with ``seed + n``.
        goal_image: ``"env"`` or ``"info"`` (see the module docstring).
        start_frame: ``"env"`` or ``"info"`` (see the module docstring).
    """

    def __init__(
        self,
        make_controller: Callable[[], Controller],
        action_block: int = 5,
        render_size: int = 64,
        seed: int = 0,
        goal_image: str = "env",
        start_frame: str = "env",
    ) -> None:
        super().__init__()
        if goal_image not in GOAL_IMAGES:
            raise ValueError(f"goal_image: one of {GOAL_IMAGES}, got {goal_image!r}")
        if start_frame not in START_FRAMES:
            raise ValueError(f"start_frame: one of {START_FRAMES}, got {start_frame!r}")
        if action_block < 1:
            raise ValueError(f"action_block: must be >= 1, got {action_block}")
        self.type = "vworld_controller"
        self.make_controller = make_controller
        self.action_block = int(action_block)
        self.render_size = int(render_size)
        self.seed = int(seed)
        self.goal_image = goal_image
        self.start_frame = start_frame
        self.controllers: list[Controller] = []
        self.views: list[SwmGoalEnv] = []
        self._queues: list[deque[np.ndarray]] = []
        self._started: list[bool] = []
        self._episodes = 0

    def set_seed(self, seed: int) -> None:
        """Seed of the first episode (``World.set_policy`` calls it)."""
        self.seed = int(seed)

    def set_env(self, env: Any) -> None:
        """Attach to a World's env pool: one controller and one read-only view per env."""
        self.env = env
        n = int(env.num_envs)
        self.views = [SwmGoalEnv(e, self.render_size, reset=False) for e in env.envs]
        self.controllers = [self.make_controller() for _ in range(n)]
        self._queues = [deque() for _ in range(n)]
        self._started = [False] * n
        self._episodes = 0

    @staticmethod
    def _row(infos: dict[str, Any], key: str, i: int, ndim: int) -> np.ndarray | None:
        """Env ``i``'s latest value of ``infos[key]`` (World keeps a time axis of 1)."""
        v = infos.get(key)
        if v is None:
            return None
        v = v[i]
        v = v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
        return v.reshape(-1, *v.shape[v.ndim - ndim :])[-1] if v.ndim > ndim else v

    def _observe(self, infos: dict[str, Any], i: int, first: bool) -> dict[str, np.ndarray]:
        view = self.views[i]
        if first and self.start_frame == "env":
            return view.observe()
        pixels = self._row(infos, "pixels", i, 3)
        if pixels is None or pixels.shape != (self.render_size, self.render_size, 3):
            shape = None if pixels is None else pixels.shape
            raise ValueError(
                f"World image_shape: infos['pixels'] rows are {shape}, the controller expects "
                f"({self.render_size}, {self.render_size}, 3); make the World with "
                f"image_shape=({self.render_size}, {self.render_size})"
            )
        proprio = self._row(infos, "proprio", i, 1)
        state = view.observe()["state"] if proprio is None else proprio.astype(np.float32)
        return {"pixels": np.asarray(pixels, dtype=np.uint8), "state": state.reshape(-1)}

    def _goal_obs(self, infos: dict[str, Any], i: int) -> dict[str, np.ndarray]:
        view = self.views[i]
        goal = view.goal_state
        if self.goal_image == "env":
            pixels = view.goal_pixels()
        else:
            pixels = self._row(infos, "goal", i, 3)
            if pixels is None:
                raise ValueError("goal_image='info': the World's infos have no 'goal' image")
        state = view.task.proprio(goal).astype(np.float32)
        return {"pixels": np.asarray(pixels, dtype=np.uint8), "state": state}

    def get_action(self, info_dict: dict[str, Any], **kwargs: Any) -> np.ndarray:
        """One action per env, ``(num_envs, A)`` float32."""
        if not self.controllers:
            raise RuntimeError("ControllerPolicy: set_env was not called (World.set_policy)")
        n = len(self.controllers)
        flush = info_dict.pop("_needs_flush", None)  # envs World reset after an episode ended
        terminated = info_dict.get("terminated")
        dead = np.zeros(n, bool) if terminated is None else np.asarray(terminated).reshape(n)
        out = np.zeros((n, *self.env.single_action_space.shape), dtype=np.float32)
        for i in range(n):
            if flush is not None and bool(np.asarray(flush).reshape(n)[i]):
                self._started[i] = False
                self._queues[i].clear()
            if dead[i]:
                continue  # World does not step an env that has terminated
            first = not self._started[i]
            if first:
                self.controllers[i].reset(
                    self._goal_obs(info_dict, i), seed=self.seed + self._episodes
                )
                self._episodes += 1
                self._started[i] = True
            if not self._queues[i]:
                actions = np.asarray(
                    self.controllers[i].act(self._observe(info_dict, i, first)), dtype=np.float32
                )
                if actions.ndim != 2 or len(actions) == 0:
                    raise ValueError(
                        f"controller.act must return (k >= 1, action_dim) actions, got "
                        f"shape {actions.shape}"
                    )
                for a in actions:
                    self._queues[i].extend([a] * self.action_block)
            out[i] = self._queues[i].popleft()
        return out.reshape(self.env.action_space.shape)


def controller_factory(cfg: Any, world_model: Any = None) -> Callable[[], Controller]:
    """Controllers as ``vworld plan`` builds them from a ``PlanConfig`` (not ``oracle``).

    Args:
        cfg: the ``PlanConfig`` (``planner``, ``horizon``, ``action_block``,
            ``block_actions``, ``receding_horizon``, ``seed``, the planner's and the cost's
            sub-configs, ``world_model``, ``device``).
        world_model: a loaded world model; loaded from ``cfg.world_model`` when None.
    """
    from vworld.eval.harness import load_plan_world_model, make_latent_controller, resolve_device
    from vworld.eval.mpc import RandomController

    if cfg.planner == "oracle":
        raise ValueError("PlanConfig.planner: oracle simulates vworld's own envs only")
    import envs

    probe = envs.make(cfg.env, render_size=cfg.render_size)
    space = probe.action_space
    probe.close()
    action_dim, low, high = int(space.shape[0]), float(space.low.min()), float(space.high.max())
    if cfg.planner == "random":
        return lambda: RandomController(action_dim, low, high, cfg.receding_horizon, cfg.seed)
    device = resolve_device(cfg.device)
    model = world_model if world_model is not None else load_plan_world_model(cfg, device)
    make_latent_controller(cfg, model, action_dim, low, high, device)  # checks cfg and model

    def make() -> Controller:
        return make_latent_controller(cfg, model, action_dim, low, high, device)

    return make


def evaluate_in_world(
    cfg: Any,
    make_controller: Callable[[], Controller] | None = None,
    policy: Any = None,
    world_model: Any = None,
) -> dict[str, Any]:
    """Run the protocol of a ``PlanConfig`` (``goal_source=dataset``) in swm's ``World.evaluate``.

    One World env per episode (``num_envs = cfg.episodes``), ``image_shape = render_size``,
    ``max_episode_steps = 2 * max_steps``; episode ``i`` is protocol episode ``i``.

    Args:
        cfg: the ``PlanConfig``: ``env``, ``goal_dataset``, ``episodes``,
            ``goal_offset_steps``, ``max_steps``, ``seed``, ``render_size``, ``action_block``.
        make_controller: the controllers to run (:func:`controller_factory` of ``cfg`` when
            None and no ``policy`` is given).
        policy: any swm policy to run instead (e.g. swm's expert).
        world_model: passed to :func:`controller_factory`.
    Returns:
        ``World.evaluate``'s dict (``success_rate`` in percent, ``episode_successes``).
    """
    from vworld.eval.swm_protocol import world_evaluate_kwargs

    cfg.validate()
    if cfg.goal_source != "dataset":
        raise ValueError("PlanConfig.goal_source: evaluate_in_world runs goal_source=dataset")
    kwargs = world_evaluate_kwargs(
        cfg.goal_dataset, cfg.episodes, cfg.goal_offset_steps, cfg.max_steps, cfg.seed, cfg.env
    )
    if policy is None:
        policy = ControllerPolicy(
            make_controller or controller_factory(cfg, world_model),
            cfg.hold_steps,
            cfg.render_size,
            cfg.seed,
        )
    os.environ.setdefault("MUJOCO_GL", "egl")
    world = swm.World(
        cfg.env,
        num_envs=cfg.episodes,
        image_shape=(cfg.render_size, cfg.render_size),
        max_episode_steps=2 * cfg.max_steps,
    )
    try:
        world.set_policy(policy)
        return world.evaluate(**kwargs)
    finally:
        world.close()
