"""The goal-reaching evaluation: plan toward goal images with a world model, count successes.

Protocol (DINO-WM, Zhou et al. 2024; V-JEPA 2-AC, Assran et al. 2025): each episode starts
from the env's reset with a fixed seed (``seed + episode``). Its goal is either the state
reached by a random policy after ``goal_offset_steps`` env steps from that start
(``goal_source="offset"``: reachable by construction; each random action is held for
``action_block`` steps, the control rate of the planner) or a state drawn with
``env.sample_goal_state`` (``"sample"``). The env is then reset to the same start with that
goal, the goal image is the env's rendering of the goal state, and MPC runs for at most
``max_steps`` env steps. Outputs in ``out_dir``: ``results.json`` (success rate with its 95%
Wilson interval, how many starts already passed the success test (``num_start_success``: an
offset goal the random policy barely moved from is usually a success after one step, whatever
the planner does), per-episode success, final distance, steps, planning seconds, the resolved
config), ``distances.png`` and ``episodes.mp4`` (observation beside the goal image).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from planners import CEMConfig, GradientConfig, MPPIConfig, make_planner
from vworld.eval.costs import CostConfig
from vworld.eval.goals import make_goal
from vworld.eval.mpc import LatentController, RandomController, goal_api, run_episode
from vworld.eval.oracle import OracleController
from vworld.eval.report import (
    plot_distances,
    side_by_side,
    wilson_interval,
    write_json,
    write_video,
)
from vworld.world_model import WorldModel

__all__ = [
    "PlanConfig",
    "load_plan_world_model",
    "make_latent_controller",
    "planner_config",
    "resolve_device",
    "run_planning",
]

PLANNERS = ("cem", "mppi", "gd", "random", "oracle")
GOAL_SOURCES = ("offset", "sample", "dataset")
GOAL_POLICIES = ("random", "scripted")
BLOCK_ACTIONS = ("held", "each")


@dataclass
class PlanConfig:
    """Config of ``vworld plan``.

    The planner sub-configs' ``horizon``, ``action_dim``, ``low`` and ``high`` are filled in
    from ``horizon`` and the env's action space; their other fields are used as given.

    Args:
        world_model: path of the world model to load (unused by ``random`` and ``oracle``);
            several joined by commas plan as one ensemble
            (:class:`vworld.world_model.EnsembleWorldModel`: a candidate's cost is its mean
            cost over the members).
        env: Gymnasium id of the task.
        render_size: frame size the env renders (must match the world model's input).
        episodes: number of episodes.
        seed: episode ``i`` uses seed ``seed + i`` for its start, goal and planner.
        goal_source: ``"offset"`` (random policy rolled ``goal_offset_steps``), ``"sample"``
            or ``"dataset"`` (stable-worldmodel's protocol, ``vworld/eval/swm_protocol.py``:
            start and goal ``goal_offset_steps`` apart in held-out recorded episodes).
        goal_offset_steps: env steps of the policy that makes an ``offset`` goal, or between
            a ``dataset`` start and its goal.
        goal_policy: the policy rolled for an ``offset`` goal: ``"random"`` (the protocol;
            uniform actions held ``action_block`` steps) or ``"scripted"``
            (``envs.policies.ScriptedPolicy``, the collection policy, toward a random sub-goal:
            like DINO-WM's goals taken from held-out dataset trajectories). Use ``scripted``
            where random actions rarely change the task state (on Push most random offset
            goals leave the block where it starts).
        goal_dataset: the held-out LeRobot dataset (``vworld collect``) of ``dataset`` goals.
        max_steps: env-step budget of an episode.
        planner: ``"cem"``, ``"mppi"``, ``"gd"``, ``"random"`` or ``"oracle"`` (CEM with the
            ``oracle`` config on the true simulator).
        horizon: planned actions per sequence (world-model steps).
        action_block: env steps of one world-model step (one planned action).
        block_actions: what the planner chooses per world-model step: ``"held"`` (one action,
            held ``action_block`` env steps) or ``"each"`` (its ``action_block`` actions,
            one per env step, planned together as one ``action_block * A`` vector, as
            stable-worldmodel's planners do; needs a world model trained with
            ``data.action_mode=concat``). ``each`` reaches states that held actions cannot
            (PushT: the recorded actions between a start and its goal, averaged per block
            and held, end 9-89 px from the goal).
        receding_horizon: planned actions (world-model steps) executed before replanning.
        cem: CEM config.
        mppi: MPPI config.
        gd: gradient planner config.
        oracle: CEM config of the oracle; ``return_type="best"`` because the simulator is
            exact, so the best sampled sequence is what executing it really achieves.
        oracle_cost_on: ``"all"`` (task distance summed over the horizon) or ``"last"``. With
            ``"last"`` and replanning every step the oracle keeps aiming to arrive at the end
            of a horizon that moves with it and rarely arrives; ``"all"`` rewards arriving
            early and staying.
        cost: latent cost config.
        match_recording: pass goal images and observations through the codec of the world
            model's training videos before encoding them (``LatentController``).
        num_video_episodes: episodes written to the video (first ones).
        record_dir: when set, every executed episode is also written there as a LeRobot v3.0
            dataset (frames, actions, states and simulator states per env step, as ``vworld
            collect`` writes them, in the world model's recording codec): the planner's own
            rollouts, to train the world model on the states its plans reach (``vworld merge``
            joins them with its training data). Use starts and goals held out from the
            evaluation's (another ``goal_dataset`` or ``seed``).
        out_dir: output folder.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    """

    world_model: str = ""
    env: str = "vworld/Reach-v0"
    render_size: int = 64
    episodes: int = 50
    seed: int = 0
    goal_source: str = "offset"
    goal_offset_steps: int = 25
    goal_policy: str = "random"
    goal_dataset: str = ""
    max_steps: int = 50
    planner: str = "cem"
    horizon: int = 5
    action_block: int = 5
    block_actions: str = "held"
    receding_horizon: int = 1
    cem: CEMConfig = field(default_factory=CEMConfig)
    mppi: MPPIConfig = field(default_factory=MPPIConfig)
    gd: GradientConfig = field(default_factory=GradientConfig)
    oracle: CEMConfig = field(
        default_factory=lambda: CEMConfig(
            num_samples=64, num_elites=8, iterations=5, return_type="best"
        )
    )
    oracle_cost_on: str = "all"
    cost: CostConfig = field(default_factory=CostConfig)
    match_recording: bool = True
    num_video_episodes: int = 4
    record_dir: str = ""
    out_dir: str = "outputs/plan"
    device: str = "auto"

    def validate(self) -> None:
        where = "PlanConfig"
        if self.planner not in PLANNERS:
            raise ValueError(f"{where}.planner must be one of {PLANNERS}, got {self.planner!r}")
        if self.goal_source not in GOAL_SOURCES:
            raise ValueError(
                f"{where}.goal_source must be one of {GOAL_SOURCES}, got {self.goal_source!r}"
            )
        if self.goal_policy not in GOAL_POLICIES:
            raise ValueError(
                f"{where}.goal_policy must be one of {GOAL_POLICIES}, got {self.goal_policy!r}"
            )
        if self.block_actions not in BLOCK_ACTIONS:
            raise ValueError(
                f"{where}.block_actions must be one of {BLOCK_ACTIONS}, got {self.block_actions!r}"
            )
        if self.block_actions == "each" and self.planner in ("random", "oracle"):
            raise ValueError(
                f"{where}.block_actions=each plans with a world model; planner={self.planner!r} "
                "holds its actions (block_actions=held)"
            )
        for name in ("episodes", "max_steps", "horizon", "action_block", "receding_horizon"):
            if getattr(self, name) < 1:
                raise ValueError(f"{where}.{name} must be >= 1, got {getattr(self, name)}")
        if self.receding_horizon > self.horizon:
            raise ValueError(
                f"{where}.receding_horizon ({self.receding_horizon}) must be <= horizon ({self.horizon})"
            )
        if self.goal_source == "dataset" and not self.goal_dataset:
            raise ValueError(
                "PlanConfig.goal_dataset: required with goal_source=dataset (a dataset folder "
                "written by vworld collect, held out from training)"
            )
        if self.goal_offset_steps < 1 and self.goal_source in ("offset", "dataset"):
            raise ValueError(
                f"{where}.goal_offset_steps must be >= 1, got {self.goal_offset_steps}"
            )
        if self.num_video_episodes < 0:
            raise ValueError(
                f"{where}.num_video_episodes must be >= 0, got {self.num_video_episodes}"
            )
        if self.oracle_cost_on not in ("last", "all"):
            raise ValueError(
                f"{where}.oracle_cost_on must be 'last' or 'all', got {self.oracle_cost_on!r}"
            )
        self.cost.validate()

    @property
    def hold_steps(self) -> int:
        """Env steps each action a controller returns is held for."""
        return 1 if self.block_actions == "each" else self.action_block


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def make_env(cfg: PlanConfig) -> Any:
    import envs  # vworld/* through gymnasium, swm/* (the swm extra) through envs.swm

    return envs.make(cfg.env, render_size=cfg.render_size)


def planner_config(cfg: PlanConfig, name: str, action_dim: int, low: float, high: float) -> Any:
    """The planner sub-config ``cfg.<name>`` with the horizon and the env's action bounds."""
    sub = {"cem": cfg.cem, "mppi": cfg.mppi, "gd": cfg.gd, "oracle": cfg.oracle}[name]
    return dataclasses.replace(sub, horizon=cfg.horizon, action_dim=action_dim, low=low, high=high)


def _action_bounds(env: Any, cfg: PlanConfig) -> tuple[int, float, float]:
    space = env.action_space
    low, high = np.unique(space.low), np.unique(space.high)
    if len(low) != 1 or len(high) != 1:
        raise ValueError(
            f"{cfg.env} has per-dimension action bounds "
            f"{space.low}..{space.high}; the planners take one scalar low/high"
        )
    return int(space.shape[0]), float(low[0]), float(high[0])


def load_plan_world_model(cfg: PlanConfig, device: torch.device) -> WorldModel:
    """The world model ``cfg.world_model`` names (a ``vworld train-ac`` output folder), or
    the ensemble of several joined by commas."""
    if not cfg.world_model:
        raise ValueError(f"PlanConfig.world_model must be a path for planner={cfg.planner!r}")
    from vworld.world_model import load_world_models

    return load_world_models(cfg.world_model, device=device)


def make_latent_controller(
    cfg: PlanConfig,
    world_model: WorldModel,
    action_dim: int,
    low: float,
    high: float,
    device: str | torch.device = "cpu",
) -> LatentController:
    """The latent controller of ``cfg`` (``cem``, ``mppi`` or ``gd``) over ``world_model``.

    Args:
        cfg: the plan config (its planner's sub-config, ``horizon``, ``action_block``,
            ``block_actions``, ``receding_horizon``, ``cost``, ``seed``, ``match_recording``).
        world_model: the model; one of its steps must be ``cfg.action_block`` env steps.
        action_dim: the env's action size; ``low``, ``high``: its bounds.
        device: where the world model lives.
    Raises:
        ValueError: the world model's step is not ``action_block`` env steps, or
            ``block_actions=each`` with a world model that takes held actions only.
    """
    # One model step is ``frame_stride`` env steps.
    if world_model.frame_stride != cfg.action_block:
        raise ValueError(
            f"action_block={cfg.action_block} but one world-model step is "
            f"{world_model.frame_stride} env steps (its frame_stride); set "
            f"action_block={world_model.frame_stride}"
        )
    per_step = 1
    if cfg.block_actions == "each":
        block_dim = getattr(world_model, "block_action_dim", None)
        if block_dim != action_dim * cfg.action_block:
            raise ValueError(
                "PlanConfig.block_actions=each: this world model takes one held action per "
                "step (train it with data.action_mode=concat to plan each env step's action), "
                "or set block_actions=held"
            )
        per_step = cfg.action_block
    pcfg = planner_config(cfg, cfg.planner, action_dim * per_step, low, high)
    return LatentController(
        world_model,
        make_planner(cfg.planner, pcfg, device=str(device)),
        cfg.cost,
        cfg.receding_horizon,
        device,
        cfg.seed,
        cfg.match_recording,
        actions_per_step=per_step,
    )


def _state_errors(
    estimate: dict[int, float], state: np.ndarray, angle_dims: Any
) -> dict[int, float]:
    """``|estimate - true|`` per state dim, angles modulo 2 pi (how far the probe aimed off)."""
    from envs.base import wrap_angle

    angles = set(angle_dims)
    return {
        d: abs(float(wrap_angle(v - state[d]) if d in angles else v - state[d]))
        for d, v in estimate.items()
    }


def run_planning(cfg: PlanConfig, world_model: WorldModel | None = None) -> dict[str, Any]:
    """Run the goal-reaching evaluation and write its outputs to ``cfg.out_dir``.

    Args:
        cfg: :class:`PlanConfig`.
        world_model: any :class:`vworld.world_model.WorldModel`; when None it is loaded from
            ``cfg.world_model`` (not needed for ``random`` and ``oracle``).
    Returns:
        The dict written to ``results.json``.
    """
    from vworld.config import to_dict

    cfg.validate()
    device = resolve_device(cfg.device)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = make_env(cfg)
    action_dim, low, high = _action_bounds(env, cfg)
    if cfg.planner in ("cem", "mppi", "gd"):
        if world_model is None:
            world_model = load_plan_world_model(cfg, device)
        controller: Any = make_latent_controller(cfg, world_model, action_dim, low, high, device)
    elif cfg.planner == "oracle":
        pcfg = planner_config(cfg, "oracle", action_dim, low, high)
        controller = OracleController(
            env.unwrapped,
            make_planner("cem", pcfg, device="cpu"),
            cfg.action_block,
            cfg.receding_horizon,
            cfg.oracle_cost_on,
            cfg.seed,
        )
    else:
        controller = RandomController(action_dim, low, high, cfg.receding_horizon, cfg.seed)

    # World models trained with ``data.sim_state_dims`` predict those sim-state columns after
    # the robot's state; the true goal's are appended to the goal's state for the probe's
    # error report and for ``goal_state=given`` (the controller reads the current ones from
    # images, never from the simulator).
    sim_dims = list(world_model.sim_state_dims) if world_model is not None else []
    # an env may state its success threshold (drawn on the distance plot)
    threshold = getattr(goal_api(env), "success_threshold", None)
    episodes: list[dict[str, Any]] = []
    all_distances: list[list[float]] = []
    video: list[np.ndarray] = []
    recorder = None
    t_start = time.perf_counter()
    bar = tqdm(range(cfg.episodes), desc=f"plan {cfg.planner}", unit="ep")
    try:
        if cfg.record_dir:
            from vworld.data.collect import env_fps
            from vworld.data.record import DatasetRecorder

            codec = world_model.frame_codec if world_model is not None else None
            recorder = DatasetRecorder(cfg.record_dir, env_fps(env), cfg.env, codec)
        for i in bar:
            seed = cfg.seed + i
            obs, info, goal_obs, goal_sim = make_goal(env, seed, cfg)
            if sim_dims:  # the world model's state goes on with sim-state columns
                goal_obs["state"] = np.concatenate([goal_obs["state"], goal_sim[sim_dims]])
            controller.reset(goal_obs, seed=seed)
            record = i < cfg.num_video_episodes
            res = run_episode(
                env,
                controller,
                obs,
                info,
                cfg.max_steps,
                cfg.hold_steps,
                record_frames=record,
                record_trajectory=recorder is not None,
            )
            if recorder is not None and res.trajectory is not None:
                recorder.add(**res.trajectory, task=f"{cfg.env}: reach the goal")
            if record:
                video.extend(side_by_side(f, goal_obs["pixels"], scale=2) for f in res.frames)
                video.extend([np.zeros_like(video[-1])] * 3)  # a short black gap
            all_distances.append(res.distances)
            extra: dict[str, Any] = {}
            est = (
                controller.goal_state_estimate if isinstance(controller, LatentController) else None
            )
            if est is not None and cfg.cost.goal_state == "probe":
                extra["goal_state_estimate"] = est
                extra["goal_state_error"] = _state_errors(
                    est, goal_obs["state"], world_model.angle_dims
                )
            episodes.append(
                {
                    "seed": seed,
                    "success": res.success,
                    "final_distance": res.final_distance,
                    "min_distance": float(min(res.distances)),
                    "initial_distance": res.distances[0],
                    # the start already passes the success test (a trivial episode)
                    "start_success": bool(info.get("success", False)),
                    "steps": res.steps,
                    "num_plans": res.num_plans,
                    "plan_seconds": res.plan_seconds,
                    "plan_seconds_per_step": res.plan_seconds / max(res.steps, 1),
                    **extra,
                }
            )
            n_ok = sum(e["success"] for e in episodes)
            bar.set_postfix(success=f"{n_ok}/{len(episodes)} ({n_ok / len(episodes):.0%})")
        recording = recorder.finish(to_dict(cfg)) if recorder is not None else None
    except BaseException:
        if recorder is not None:
            recorder.abort()
        raise
    finally:
        bar.close()
        env.close()

    n_ok = sum(e["success"] for e in episodes)
    lo, hi = wilson_interval(n_ok, len(episodes))
    total_steps = sum(e["steps"] for e in episodes)
    total_plans = sum(e["num_plans"] for e in episodes)
    total_plan_s = sum(e["plan_seconds"] for e in episodes)
    results: dict[str, Any] = {
        "env": cfg.env,
        "planner": cfg.planner,
        "world_model": cfg.world_model,
        "num_episodes": len(episodes),
        "num_success": n_ok,
        "success_rate": n_ok / len(episodes),
        "success_rate_ci95": [lo, hi],
        "num_start_success": sum(e["start_success"] for e in episodes),
        "mean_final_distance": float(np.mean([e["final_distance"] for e in episodes])),
        "mean_steps": float(np.mean([e["steps"] for e in episodes])),
        "plan_seconds_per_step": total_plan_s / max(total_steps, 1),
        "plan_seconds_per_call": total_plan_s / max(total_plans, 1),
        "wall_seconds": time.perf_counter() - t_start,
        "success_threshold": threshold,
        "device": str(device),
        "episodes": episodes,
        # what the planner's cost compared: with latent_only, predicted latents against the
        # goal image's latent and nothing else (no probe, no goal state, no simulator state)
        "cost": {
            **to_dict(cfg.cost),
            # the goal's state is read only where a state term scores it
            "goal_state": cfg.cost.goal_state if cfg.cost.state_weight > 0 else None,
            "planner_uses_world_model": cfg.planner in ("cem", "mppi", "gd"),
        },
        "config": to_dict(cfg),
    }
    errs = [e["goal_state_error"] for e in episodes if "goal_state_error" in e]
    if errs:  # how far the probe's goal estimates were from the true goal states
        results["goal_state_error_median"] = {
            d: float(np.median([e[d] for e in errs])) for d in errs[0]
        }
    write_json(results, out_dir / "results.json")
    plot_distances(
        all_distances,
        [e["success"] for e in episodes],
        out_dir / "distances.png",
        threshold=threshold,
        title=f"{cfg.env} {cfg.planner}: {n_ok}/{len(episodes)} success",
    )
    if video:
        write_video(video, out_dir / "episodes.mp4", fps=10)
    results["outputs"] = {
        "results": str(out_dir / "results.json"),
        "plot": str(out_dir / "distances.png"),
        "video": str(out_dir / "episodes.mp4") if video else None,
        "recording": str(recording) if recording is not None else None,
    }
    return results
