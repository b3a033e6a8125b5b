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
  optimiser) is what would help.
"""

from __future__ import annotations

import dataclasses
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
) -> dict[str, float]:
    """Action sensitivity and ranking quality of ``world_model`` on ``env`` (see module doc).

    Returns:
        ``action_sensitivity``, ``rank_corr`` (model cost vs true distance),
        ``latent_rank_corr`` (true latents' cost vs true distance), means over starts, and
        ``latent_error`` (mean squared error of the predicted final latents); with
        ``goal_dataset`` also ``recorded_cost``, ``planned_cost``, ``recorded_distance``,
        ``planned_distance`` (means) and ``exploited`` (a fraction).
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
            dists = []
            for p in both.numpy():
                _execute(env, seed, start, p, hold)
                dists.append(u.task_distance(u.get_state(), goal))
            d_rec, d_plan = dists
            for k, v in zip(_CHECK_KEYS, (c_rec, c_plan, d_rec, d_plan)):
                check[k].append(v)
            check["exploited"].append(float(c_plan < c_rec and d_plan > d_rec))
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


def _execute(env: Any, seed: int, start: np.ndarray, seq: np.ndarray, hold: int) -> Any:
    """Reset to ``start`` and execute ``seq``'s actions, each held ``hold`` steps; the last obs."""
    obs, _ = env.reset(seed=seed, options={"state": start, "goal": start})
    for a in seq.reshape(-1, env.action_space.shape[0]):
        for _ in range(hold):
            obs, *_ = env.step(a.astype(np.float32))
    return obs


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
