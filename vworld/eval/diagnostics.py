"""Can this world model plan? Two checks that answer before 50 episodes of planning do.

For a few start states of the protocol (goal = the state a random policy reaches
``goal_offset_steps`` env steps later, or, with ``goal_dataset``, start and goal from held-out
recorded episodes as in swm's protocol), ``num_candidates`` random action sequences are rolled
out in the world model and executed in the simulator (the simulator only grades; it never
reaches the model):

- **action sensitivity**: the spread (std over candidates, averaged over latent dims) of the
  predicted final latents over the spread of the true final latents (the encoder's latents of
  the rendered outcomes). Near 0: the model ignores the action, and CEM has nothing to rank.
- **ranking quality**: Spearman's rank correlation between the planner's cost of each
  candidate (its predicted latents against the goal image's latent) and the true task
  distance after executing it. ``latent_rank_corr`` ranks the *true* latents by the same
  cost: it grades the latent space itself (is distance to the goal image's latent a good
  measure of distance to the goal?), apart from the predictor.
- **exploitation** (with ``goal_dataset``): the recorded actions from the start to its goal
  reach the goal by construction. The planner (CEM, ``cem``) plans from the start with the
  model; both sequences are scored by the model (``recorded_cost``, ``planned_cost``) and
  executed (``recorded_distance``, ``planned_distance``). ``exploited``: the fraction of starts
  where the plan costs less than the recorded actions in the model yet ends farther from the
  goal: the planner found the model's errors, not the goal, and a better model (not a better
  optimiser) is what would help. ``recorded_error`` and ``planned_error``: the predictor's
  error along each of the two (root mean square of its predicted latent against the encoder's
  latent of the executed frame, at the end of each model step, averaged over the steps): how
  accurate the model is where the data go and where the planner goes.
- **the simulator as the world model** (with ``goal_dataset`` and ``simulator_cem``): CEM
  plans from each start with the simulator in place of the predictor, scoring each candidate
  by the same latent cost on the *encoder's* latents of the frames it renders
  (``sim_latent_*``: the latent space's own ceiling, whatever the predictor), and, as a
  shortcut for reference, by the env's own task distance to the goal state
  (``sim_state_*``: the optimiser's ceiling). Each plan is executed once, open loop, from its
  start: ``*_success`` is the fraction of starts where the env reports success at some
  executed step, ``*_distance`` the mean task distance at its end. The world model's own CEM
  plan is graded the same way (``planned_success``) and so are the recorded actions
  (``recorded_success``). When the simulator with the latent cost succeeds where the world
  model does not, the predictor is what fails; when it fails too, the latent space does.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from planners import CEM, CEMConfig
from vworld.eval.costs import CostConfig, goal_cost, make_latent_cost
from vworld.eval.goals import make_goal
from vworld.eval.harness import PlanConfig
from vworld.eval.mpc import LatentController, goal_api

__all__ = ["DiagnosticsConfig", "planning_diagnostics"]


@dataclass
class DiagnosticsConfig:
    """Args:
    starts: start states (episode seeds ``seed .. seed + starts - 1``).
    num_candidates: random action sequences per start.
    horizon: model steps per sequence.
    action_block: env steps of one model step.
    block_actions: ``"held"`` (a candidate's action per model step, held ``action_block``
        steps) or ``"each"`` (an action per env step; ``PlanConfig.block_actions``).
    goal_offset_steps: env steps of random actions that make the goal (or, with
        ``goal_dataset``, recorded steps between start and goal).
    seed: first episode seed.
    env: the env's id, for the protocol's messages and dataset checks.
    goal_dataset: a held-out dataset written by ``vworld collect``: starts and goals come
        from its episodes (``PlanConfig.goal_source=dataset``), and the planner is checked
        against their recorded actions (``goal_offset_steps`` must then be
        ``horizon * action_block``). Empty: random-policy goals.
    cem: the planner of the exploitation check (its horizon and bounds are filled in).
    simulator_cem: with ``goal_dataset``, also plan with the simulator as the world model
        (this CEM; see the module doc). Each candidate is simulated from the start, so this
        costs ``num_samples * iterations`` simulated plans per start. None: skipped.
    """

    starts: int = 8
    num_candidates: int = 64
    horizon: int = 5
    action_block: int = 5
    block_actions: str = "held"
    goal_offset_steps: int = 25
    seed: int = 0
    env: str = "vworld/Reach-v0"
    goal_dataset: str = ""
    cem: CEMConfig = field(default_factory=CEMConfig)
    simulator_cem: CEMConfig | None = None

    def protocol(self) -> PlanConfig:
        """The plan protocol whose goals the diagnostics use."""
        return PlanConfig(
            env=self.env,
            episodes=self.starts,
            seed=self.seed,
            goal_offset_steps=self.goal_offset_steps,
            action_block=self.action_block,
            block_actions=self.block_actions,
            goal_source="dataset" if self.goal_dataset else "offset",
            goal_dataset=self.goal_dataset,
        )


@torch.no_grad()
def planning_diagnostics(
    env: Any,
    world_model: Any,
    cost: CostConfig,
    cfg: DiagnosticsConfig | None = None,
    device: str | torch.device = "cpu",
    log: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """Action sensitivity and ranking quality of ``world_model`` on ``env`` (see module doc).

    ``log``: called with one line per start (the exploitation check's values for it).

    Returns:
        ``action_sensitivity``, ``rank_corr`` (model cost vs true distance),
        ``latent_rank_corr`` (true latents' cost vs true distance), means over starts, and
        ``latent_error`` (mean squared error of the predicted final latents); with
        ``goal_dataset`` also ``recorded_cost``, ``planned_cost``, ``recorded_distance``,
        ``planned_distance``, ``recorded_error``, ``planned_error`` (means) and
        ``exploited`` (a fraction).
    Raises:
        ValueError: ``goal_dataset`` with ``goal_offset_steps`` other than
            ``horizon * action_block``.
    """
    cfg = cfg or DiagnosticsConfig()
    ctl = LatentController(world_model, _NoPlanner(), cost, device=device)
    u = goal_api(env)
    protocol = cfg.protocol()
    protocol.validate()
    per_step, hold = (cfg.action_block, 1) if cfg.block_actions == "each" else (1, cfg.action_block)
    low, high = np.tile(env.action_space.low, per_step), np.tile(env.action_space.high, per_step)
    sens, rank, latent_rank, err = [], [], [], []
    check: dict[str, list[float]] = {k: [] for k in (*_CHECK_KEYS, "exploited")}
    if cfg.goal_dataset:
        from vworld.eval.swm_protocol import protocol_episodes

        if cfg.goal_offset_steps != cfg.horizon * cfg.action_block:
            raise ValueError(
                f"DiagnosticsConfig.goal_offset_steps: {cfg.goal_offset_steps}, but the "
                f"recorded actions are checked as one plan of horizon * action_block = "
                f"{cfg.horizon * cfg.action_block} env steps"
            )
        pcfg = dataclasses.replace(
            cfg.cem,
            horizon=cfg.horizon,
            action_dim=len(low),
            low=float(low.min()),
            high=float(high.max()),
        )
        planner = CEM(pcfg, device=str(device))
        if cfg.simulator_cem is not None:
            sim_planner = CEM(
                dataclasses.replace(
                    cfg.simulator_cem,
                    horizon=cfg.horizon,
                    action_dim=len(low),
                    low=float(low.min()),
                    high=float(high.max()),
                ),
                device=str(device),
            )
    for i in range(cfg.starts):
        seed = cfg.seed + i
        _, _, goal_obs, goal = make_goal(env, seed, protocol)
        start = u.get_state()
        ctl.reset(goal_obs)
        obs, _ = env.reset(seed=seed, options={"state": start, "goal": start})
        z0, s0 = ctl.context(obs)  # as the controller plans from it
        rng = np.random.default_rng([seed, 2])
        plans = rng.uniform(low, high, (cfg.num_candidates, cfg.horizon, len(low)))
        plans_t = torch.as_tensor(plans, dtype=torch.float32, device=device)
        z_pred, _ = world_model.rollout(z0, s0, plans_t)  # (N, H, ...)
        true_z, true_dist = [], []
        for seq in plans:
            obs = _execute(env, seed, start, seq, hold)
            true_z.append(world_model.encode(ctl._frames(obs["pixels"]))[0, 0])
            true_dist.append(u.task_distance(u.get_state(), goal))
        z_true = torch.stack(true_z)  # (N, ...)
        last = z_pred[:, -1]
        spread_pred = last.flatten(1).std(0).mean()
        spread_true = z_true.flatten(1).std(0).mean()
        sens.append(float(spread_pred / spread_true.clamp_min(1e-12)))
        last_cost = CostConfig(cost_type=cost.cost_type, cost_on="last")
        c_model = goal_cost(z_pred, ctl._z_goal, last_cost).cpu().numpy()
        c_true = goal_cost(z_true[:, None], ctl._z_goal, last_cost).cpu().numpy()
        rank.append(_rank_corr(c_model, true_dist))
        latent_rank.append(_rank_corr(c_true, true_dist))
        err.append(float((last - z_true).square().mean()))
        if cfg.goal_dataset:
            episodes = protocol_episodes(  # read once (cached)
                cfg.goal_dataset, cfg.starts, cfg.goal_offset_steps, cfg.seed, cfg.env
            )
            acts = episodes[i].actions.reshape(cfg.horizon, cfg.action_block, -1)
            # the recorded actions as a plan: a block's actions, or (held) their mean
            rec_plan = acts.reshape(cfg.horizon, -1) if per_step > 1 else acts.mean(1)
            cost_fn = make_latent_cost(
                lambda a, z=z0, s=s0: world_model.rollout(z, s, a.to(device)),
                ctl._z_goal,
                cost,
                latent_sizes=getattr(world_model, "latent_sizes", None),
            )
            generator = torch.Generator(device=planner.device).manual_seed(seed)
            plan, _ = planner.plan(cost_fn, generator=generator)
            both = torch.stack([torch.as_tensor(rec_plan, dtype=plan.dtype), plan.cpu()])
            c_rec, c_plan = cost_fn(both).tolist()
            (d_rec, r_rec, f_rec), (d_plan, r_plan, f_plan) = (
                _graded(env, seed, start, goal, p, hold) for p in both.numpy()
            )
            for k, v in zip(_CHECK_KEYS, (c_rec, c_plan, d_rec, d_plan)):
                check[k].append(v)
            check["exploited"].append(float(c_plan < c_rec and d_plan > d_rec))
            check.setdefault("recorded_success", []).append(r_rec)
            check.setdefault("planned_success", []).append(r_plan)
            z_both, _ = world_model.rollout(z0, s0, both.to(device))  # (2, H, ...)
            z_seen = world_model.encode(torch.cat([ctl._frames(f) for f in f_rec + f_plan]))
            z_seen = z_seen.reshape(2, -1, *z_seen.shape[2:])  # one batch: (2, H, ...)
            for key, z_hat, z_true in zip(_ERROR_KEYS, z_both, z_seen):
                check.setdefault(key, []).append(_rms(z_hat, z_true))
            if cfg.simulator_cem is not None:
                sim_cost = _SimulatorCost(env, ctl, world_model, seed, start, goal, hold)
                for kind in ("latent", "state"):
                    fn = functools.partial(sim_cost, kind=kind, cfg=cost)
                    generator = torch.Generator(device=sim_planner.device).manual_seed(seed)
                    sim_plan, _ = sim_planner.plan(fn, generator=generator)
                    d, r, _ = _graded(env, seed, start, goal, sim_plan.cpu().numpy(), hold)
                    check.setdefault(f"sim_{kind}_success", []).append(r)
                    check.setdefault(f"sim_{kind}_distance", []).append(d)
        if log is not None:
            log(f"start {i}: " + " ".join(f"{k} {v[-1]:.3f}" for k, v in check.items() if v))
    out = {
        "action_sensitivity": float(np.mean(sens)),
        "rank_corr": float(np.mean(rank)),
        "latent_rank_corr": float(np.mean(latent_rank)),
        "latent_error": float(np.mean(err)),
    }
    if cfg.goal_dataset:
        out.update({k: float(np.mean(v)) for k, v in check.items()})
    return out


_CHECK_KEYS = ("recorded_cost", "planned_cost", "recorded_distance", "planned_distance")
_ERROR_KEYS = ("recorded_error", "planned_error")


def _rms(z_hat: torch.Tensor, z_seen: torch.Tensor) -> float:
    """Root mean square of ``z_hat - z_seen`` over each step's latent, averaged over steps."""
    diff = (z_hat.float() - z_seen.float().to(z_hat.device)).flatten(1)
    return float(diff.square().mean(1).sqrt().mean())


def _execute(env: Any, seed: int, start: np.ndarray, seq: np.ndarray, hold: int) -> Any:
    """Reset to ``start`` and execute ``seq``'s actions, each held ``hold`` steps; the last obs."""
    obs, _ = env.reset(seed=seed, options={"state": start, "goal": start})
    for a in seq.reshape(-1, env.action_space.shape[0]):
        for _ in range(hold):
            obs, *_ = env.step(a.astype(np.float32))
    return obs


def _graded(
    env: Any, seed: int, start: np.ndarray, goal: np.ndarray, seq: np.ndarray, hold: int
) -> tuple[float, float, list[np.ndarray]]:
    """Execute ``seq`` (a row per model step) from ``start`` with ``goal`` set: the task
    distance at its end, 1.0 when the env reported success at some env step (else 0.0), and
    the frame at the end of each model step."""
    env.reset(seed=seed, options={"state": start, "goal": goal})
    reached, frames = 0.0, []
    for step in seq:
        for a in step.reshape(-1, env.action_space.shape[0]):
            for _ in range(hold):
                obs, _, _, _, info = env.step(a.astype(np.float32))
                reached = max(reached, float(bool(info.get("success"))))
        frames.append(obs["pixels"])
    u = goal_api(env)
    return u.task_distance(u.get_state(), goal), reached, frames


class _SimulatorCost:
    """A planner cost with the simulator as the world model: each candidate is executed from
    ``start`` (physics only, ``advance``), and scored at the end of each model step by the
    latent cost on the encoder's latents of the rendered frame (``kind="latent"``), or by the
    env's task distance to ``goal`` (``kind="state"``, a shortcut), summed or last as
    ``cfg.cost_on`` says."""

    def __init__(
        self,
        env: Any,
        ctl: LatentController,
        world_model: Any,
        seed: int,
        start: np.ndarray,
        goal: np.ndarray,
        hold: int,
    ) -> None:
        self.env, self.ctl, self.world_model = env, ctl, world_model
        self.seed, self.start, self.goal, self.hold = seed, start, goal, hold
        self.u = goal_api(env)
        self.step = getattr(self.u, "advance", None) or env.step

    @torch.no_grad()
    def __call__(self, actions: torch.Tensor, kind: str, cfg: CostConfig) -> torch.Tensor:
        n, horizon = actions.shape[:2]
        a_dim = self.env.action_space.shape[0]
        frames, dists = [], np.zeros((n, horizon))
        for i, seq in enumerate(actions.cpu().numpy()):
            self.env.reset(seed=self.seed, options={"state": self.start, "goal": self.start})
            for t, block in enumerate(seq):
                for a in block.reshape(-1, a_dim):
                    for _ in range(self.hold):
                        self.step(a.astype(np.float32))
                if kind == "state":
                    dists[i, t] = self.u.task_distance(self.u.get_state(), self.goal)
                elif cfg.cost_on == "all" or t == horizon - 1:
                    frames.append(self.ctl._frames(self.u.render()))
        if kind == "state":
            d = torch.as_tensor(dists, dtype=torch.float32)
            return d[:, -1] if cfg.cost_on == "last" else d.sum(1)
        z = torch.cat([self.world_model.encode(f) for f in _chunks(frames, 256)])
        z = z.reshape(n, -1, *z.shape[2:])  # (N, H or 1, ...)
        last = dataclasses.replace(cfg, cost_on="last") if z.shape[1] == 1 else cfg
        return goal_cost(z, self.ctl._z_goal, last).cpu()


def _chunks(frames: list[torch.Tensor], size: int) -> list[torch.Tensor]:
    """``(1, 1, 3, H, W)`` frames as batches ``(B, 1, 3, H, W)`` of at most ``size``."""
    return [torch.cat(frames[i : i + size]) for i in range(0, len(frames), size)]


def _rank_corr(cost: np.ndarray, dist: list[float]) -> float:
    """Spearman's correlation; 0 when either side is constant (nothing can be ranked)."""
    if np.ptp(cost) == 0 or np.ptp(dist) == 0:
        return 0.0
    return float(np.corrcoef(_ranks(np.asarray(cost)), _ranks(np.asarray(dist)))[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 0, ties sharing their mean rank (as Spearman's correlation takes them)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return (start + (counts - 1) / 2.0)[inverse]


class _NoPlanner:
    """The controller's planner slot: the diagnostics only encode and never plan."""

    device = "cpu"
