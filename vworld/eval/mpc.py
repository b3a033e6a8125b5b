"""Model-predictive control toward a goal image: latent MPC, and the random baseline.

The control loop of DINO-WM (Zhou et al. 2024) and V-JEPA 2-AC (Assran et al. 2025): encode
the current observation and the goal image, plan an action sequence that brings the world
model's predicted latent close to the goal latent, execute the first ``receding_horizon``
planned actions, each held for ``action_block`` env steps (one world-model step is one
block; or, with a world model fed each env step's action, ``actions_per_step`` actions
planned per block and executed one per env step), then replan, warm-starting from the previous
plan shifted by the executed actions (TD-MPC2). The episode stops on success, read from the env's ``info`` after every executed
env step, or when the step budget is spent. The simulator's state never steers the latent
controller; only the oracle baseline (``vworld.eval.oracle``) plans with the true simulator,
to measure the headroom a perfect model would give.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from planners import Planner
from vworld.eval.costs import CostConfig, make_latent_cost
from vworld.world_model import WorldModel

__all__ = [
    "Controller",
    "EpisodeResult",
    "LatentController",
    "RandomController",
    "goal_api",
    "run_episode",
]

_GOAL_API = ("get_state", "set_state", "goal_pixels", "goal_state", "task_distance")


def goal_api(env: Any) -> Any:
    """The layer of a (possibly wrapped) env that has the goal-env methods.

    Gymnasium wrappers do not forward attributes, so ``get_state``/``goal_pixels``... live on
    the unwrapped ``envs.GoalEnv`` or on a wrapper such as ``envs.GoalImageAdapter``.
    """
    e = env
    while True:
        if all(hasattr(e, name) for name in _GOAL_API):
            return e
        inner = getattr(e, "env", None)
        if inner is None or inner is e:
            raise TypeError(
                f"{type(env).__name__} has no layer with the goal-env methods "
                f"{_GOAL_API} (an envs.GoalEnv, or wrapped by envs.GoalImageAdapter)"
            )
        e = inner


def pixels_to_frames(pixels: np.ndarray, device: torch.device) -> Tensor:
    """One ``(H, W, 3)`` uint8 frame -> ``(1, 1, 3, H, W)`` uint8 tensor on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
    return x.permute(2, 0, 1)[None, None]  # (1, 1, C, H, W)


class Controller(Protocol):
    """Chooses the next actions to execute; ``act`` returns ``(k, action_dim)`` block actions."""

    def reset(self, goal_obs: dict[str, np.ndarray], seed: int | None = None) -> None: ...

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray: ...


class LatentController:
    """Plan in a world model's latent space toward the goal image.

    Args:
        world_model: a :class:`WorldModel`.
        planner: a ``planners`` planner whose horizon and action_dim match the task.
        cost: :class:`vworld.eval.costs.CostConfig`.
        receding_horizon: planned actions executed before replanning.
        device: where the world model lives.
        seed: seeds the planner's generator (reseeded on every ``reset``).
        match_recording: pass the goal image and observations through the codec of the world
            model's training videos (its ``frame_codec``, when it has one) before encoding
            them: an encoder and probe trained on decoded video can react strongly to the
            codec's small colour shifts, which clean renders lack.
        actions_per_step: env actions in one planned action (1: one action, which the caller
            holds for a world-model step's env steps; ``frame_stride``: that step's action for
            each env step, concatenated, with a world model that takes them, see
            ``JEPAWorldModel.block_action_dim``). :meth:`act` returns them one per env step.
    """

    def __init__(
        self,
        world_model: WorldModel,
        planner: Planner,
        cost: CostConfig,
        receding_horizon: int = 1,
        device: str | torch.device = "cpu",
        seed: int = 0,
        match_recording: bool = True,
        actions_per_step: int = 1,
    ) -> None:
        self.world_model = world_model
        cost.validate()
        if actions_per_step < 1:
            raise ValueError(f"actions_per_step: must be >= 1, got {actions_per_step}")
        self.actions_per_step = int(actions_per_step)
        if cost.latent_only and world_model.sim_state_dims:
            raise ValueError(
                "cost.latent_only: this world model's state holds simulator columns "
                f"{list(world_model.sim_state_dims)} that a state probe reads from images "
                "(trained on simulator labels, train-ac data.sim_state_dims); a latent-only "
                "planner takes a world model trained without them"
            )
        if cost.ensemble == "max" and not hasattr(world_model, "members"):
            raise ValueError(
                "cost.ensemble=max scores each member of an ensemble on its own; this world "
                "model is one model (give world_model=runs/a,runs/b)"
            )
        codec = world_model.frame_codec
        self.frame_codec: dict | None = dict(codec) if codec and match_recording else None
        self.planner = planner
        self.cost = cost
        self.receding_horizon = receding_horizon
        self.device = torch.device(device)
        self.seed = seed
        self._generator = torch.Generator(device=planner.device)
        self._z_goal: Tensor | None = None
        self._s_goal: Tensor | None = None
        self._s_dims: list[int] | None = None
        self._prev: Tensor | None = None
        self.last_info: dict[str, Any] = {}

    def _frames(self, pixels: np.ndarray) -> Tensor:
        """An image as the world model's input ``(1, 1, 3, H, W)``, recoded when asked."""
        if self.frame_codec is not None:
            from vworld.data.codec import recode_frames

            pixels = recode_frames(np.asarray(pixels)[None], **self.frame_codec)[0]
        return pixels_to_frames(pixels, self.device)

    @torch.no_grad()
    def reset(self, goal_obs: dict[str, np.ndarray], seed: int | None = None) -> None:
        """Encode the goal and forget the previous plan.

        Args:
            goal_obs: ``{"pixels": (H, W, 3) uint8, "state": (S,)}``; ``"state"`` may be absent.
            seed: reseeds the planner's generator (default: the constructor's seed).
        """
        self._generator.manual_seed(self.seed if seed is None else seed)
        goal_frames = self._frames(goal_obs["pixels"])
        self._z_goal = self.world_model.encode(goal_frames)
        self._s_goal, self._s_dims = self._goal_state(goal_obs, goal_frames)
        self._prev = None

    @property
    def goal_state_estimate(self) -> dict[int, float] | None:
        """The goal state the cost aims at, ``{state dim: value}`` (None: no state term)."""
        if self._s_goal is None or self._s_dims is None:
            return None
        return dict(zip(self._s_dims, self._s_goal.tolist()))

    def _goal_state(
        self, goal_obs: dict[str, np.ndarray], goal_frames: Tensor
    ) -> tuple[Tensor | None, list[int] | None]:
        """The goal's values of the compared state dims, and those dims (None: no state term)."""
        cost = self.cost
        if cost.state_weight == 0:
            return None, None
        if cost.goal_state == "given":
            if goal_obs.get("state") is None:
                raise ValueError("cost.goal_state=given but the goal observation has no 'state'")
            full = torch.as_tensor(goal_obs["state"], device=self.device).float().reshape(-1)
            dims = list(cost.state_dims) if cost.state_dims else list(range(len(full)))
            return full[dims], dims
        probed = self.world_model.state_dims
        if probed is None:
            raise ValueError(
                "cost.goal_state=probe needs a world model with a state "
                "probe (`vworld train-ac ... probe.enabled=true`); or set cost.goal_state=given"
            )
        est = self.world_model.read_state(goal_frames).reshape(-1)  # (K,) for the probed dims
        dims = list(cost.state_dims) if cost.state_dims else list(probed)
        missing = [d for d in dims if d not in probed]
        if missing:
            raise ValueError(
                f"cost.state_dims {missing} are not probed by the world "
                f"model (its probe estimates dims {list(probed)})"
            )
        return est[[probed.index(d) for d in dims]], dims

    @torch.no_grad()
    def context(self, obs: dict[str, np.ndarray]) -> tuple[Tensor, Tensor]:
        """What the world model rolls out from: the latent ``(1, 1, ...)`` of ``obs``'s image
        and its state ``(1, 1, S)``, the robot's sensed state followed by what the model reads
        from the image (an object's pose) where its state goes on past the robot's."""
        frames = self._frames(obs["pixels"])
        s = torch.as_tensor(obs["state"], device=self.device).float()[None, None]
        return self.world_model.encode(frames), self.world_model.observed_state(frames, s)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Plan from ``obs`` and return the first ``receding_horizon`` planned actions ``(k, A)``
        (``(k * actions_per_step, A)``: one per env step, when a planned action holds them)."""
        if self._z_goal is None:
            raise RuntimeError("LatentController.reset(goal_obs) was not called")
        z_ctx, s_ctx = self.context(obs)
        # A state-only cost needs no predicted latents; world models that can skip them
        # save their latent decoder's time.
        latents = self.cost.latent_weight > 0
        cost_fn = make_latent_cost(
            lambda actions: self.world_model.rollout(
                z_ctx, s_ctx, actions.to(self.device), latents=latents
            ),
            self._z_goal,
            self.cost,
            self._s_goal,
            self._s_dims,
            self.world_model.angle_dims,
            getattr(self.world_model, "latent_sizes", None),
        )
        init = None if self._prev is None else self.planner.shift(self._prev, self.receding_horizon)
        plan, info = self.planner.plan(cost_fn, init=init, generator=self._generator)
        self._prev = plan.detach()
        self.last_info = info
        first = plan[: self.receding_horizon].detach().cpu().numpy()
        return first.reshape(len(first) * self.actions_per_step, -1)


class RandomController:
    """Uniformly random actions in the bounds (the ``planner=random`` baseline).

    Args:
        action_dim: size of an action.
        low: lower bound.
        high: upper bound.
        receding_horizon: actions returned per call.
        seed: seed of the generator (reseeded on every ``reset`` when given one).
    """

    def __init__(
        self,
        action_dim: int,
        low: float = -1.0,
        high: float = 1.0,
        receding_horizon: int = 1,
        seed: int = 0,
    ) -> None:
        self.action_dim, self.low, self.high = action_dim, low, high
        self.receding_horizon = receding_horizon
        self.rng = np.random.default_rng(seed)

    def reset(self, goal_obs: dict[str, np.ndarray], seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.rng.uniform(self.low, self.high, (self.receding_horizon, self.action_dim))


@dataclass
class EpisodeResult:
    """What one MPC episode did.

    Args:
        success: whether ``info["success"]`` was seen after some executed step.
        steps: env steps executed.
        distances: ``info["distance"]`` at reset and after every step (``steps + 1`` values).
        plan_seconds: wall time spent choosing actions.
        num_plans: calls to the controller.
        frames: observation frames (reset and after every step) when recorded.
        trajectory: with ``record_trajectory``, what a robot log holds of the executed steps,
            one row per step in ``vworld collect``'s convention (``actions[t]`` taken at
            ``frames[t]``): ``frames`` ``(L, H, W, 3)``, ``actions`` ``(L, A)``, ``states``
            ``(L, S)`` and ``sim_states`` ``(L, D)`` (the simulator's, as collection records it).
    """

    success: bool
    steps: int
    distances: list[float]
    plan_seconds: float
    num_plans: int
    frames: list[np.ndarray] = field(default_factory=list)
    trajectory: dict[str, np.ndarray] | None = None

    @property
    def final_distance(self) -> float:
        return self.distances[-1]


def run_episode(
    env: Any,
    controller: Controller,
    obs: dict[str, np.ndarray],
    info: dict[str, Any],
    max_steps: int,
    action_block: int,
    record_frames: bool = False,
    record_trajectory: bool = False,
) -> EpisodeResult:
    """Run MPC from the current env state until success or ``max_steps`` env steps.

    Args:
        env: a Gymnasium goal env, already reset with its goal set.
        controller: its ``act(obs)`` returns ``(k, A)`` actions, each held ``action_block`` steps.
        obs: the observation the episode starts from.
        info: the ``info`` of that reset.
        max_steps: env-step budget.
        action_block: env steps each returned action is held for.
        record_frames: keep every observation frame (for videos).
        record_trajectory: keep the executed steps as a robot log's rows
            (``EpisodeResult.trajectory``; the env needs the goal-env ``get_state``).
    """
    distances = [float(info["distance"])]
    frames = [obs["pixels"]] if record_frames else []
    rows: dict[str, list[np.ndarray]] = {"frames": [], "actions": [], "states": [], "sim": []}
    sim_state = goal_api(env).get_state if record_trajectory else None
    steps, plan_seconds, num_plans, success = 0, 0.0, 0, False
    while steps < max_steps and not success:
        t0 = time.perf_counter()
        actions = np.asarray(controller.act(obs), dtype=np.float32)
        plan_seconds += time.perf_counter() - t0
        num_plans += 1
        if actions.ndim != 2 or len(actions) == 0:
            raise ValueError(
                f"controller.act must return (k >= 1, action_dim) actions, "
                f"got shape {actions.shape}"
            )
        stop = False
        for a in actions:
            for _ in range(action_block):
                if sim_state is not None:
                    for k, v in zip(rows, (obs["pixels"], a, obs["state"], sim_state())):
                        rows[k].append(np.array(v, copy=True))
                obs, _, terminated, truncated, info = env.step(a)
                steps += 1
                distances.append(float(info["distance"]))
                if record_frames:
                    frames.append(obs["pixels"])
                success = bool(info["success"])
                if success or steps >= max_steps or terminated or truncated:
                    stop = True
                    break
            if stop:
                break
        if stop and not success and (terminated or truncated):
            break
    trajectory = None
    if sim_state is not None and steps:
        trajectory = {
            "frames": np.stack(rows["frames"]).astype(np.uint8),
            "actions": np.stack(rows["actions"]).astype(np.float32),
            "states": np.stack(rows["states"]).astype(np.float32),
            "sim_states": np.stack(rows["sim"]).astype(np.float64),
        }
    return EpisodeResult(success, steps, distances, plan_seconds, num_plans, frames, trajectory)
