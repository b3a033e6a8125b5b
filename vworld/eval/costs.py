"""Goal-reaching costs in latent space for planning with a world model.

As in DINO-WM (Zhou et al. 2024) and V-JEPA 2-AC (Assran et al. 2025): a candidate action
sequence is scored by the distance between the world model's predicted latent and the
latent of the goal image, either on the last predicted step (V-JEPA 2-AC's L1 energy) or
summed over the horizon (DINO-WM's ``"all"`` objective), plus an optional weighted
distance between the predicted proprioception and the goal's. The goal's proprioception is
either estimated from the goal image by the world model's state probe (``goal_state="probe"``:
the goal stays an image) or read from the env (``"given"``, as DINO-WM's planner gets the
goal's proprio; privileged, so never the default). Angles are compared modulo 2 pi.

Distances are means over the latent's elements (``"l1"``: mean absolute difference, as
V-JEPA 2-AC; ``"l2"``: mean squared difference, as DINO-WM's MSE objective), so the scale
does not depend on the number of tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from vworld.layers.angles import wrap_angles

__all__ = ["CostConfig", "goal_cost", "latent_distance", "make_latent_cost", "state_distance"]

COST_TYPES = ("l1", "l2")
COST_ON = ("last", "all")
GOAL_STATES = ("probe", "given")
ENSEMBLE_COSTS = ("mean", "max")


@dataclass
class CostConfig:
    """How a predicted trajectory is scored against the goal.

    Args:
        cost_type: ``"l1"`` (mean absolute difference) or ``"l2"`` (mean squared difference).
        cost_on: ``"last"`` (final predicted step only) or ``"all"`` (sum over the horizon).
        latent_weight: weight of the latent term (0: plan on the state term alone).
        state_weight: weight of the proprioceptive term (0 disables it).
        goal_state: where the goal's proprioception comes from: ``"probe"`` (the world
            model's state probe applied to the goal image) or ``"given"`` (the env's).
        state_dims: state dims the term compares (default: all the probe's dims, or all).
        state_scales: one scale per compared dim: each difference is divided by it before
            the distance, so dims in different units weigh alike (e.g. a task's success
            tolerances: Push's block position 0.03 m and yaw 0.2 rad). Default: 1 for all.
        latent_only: the JEPA planner's cost: the distance between predicted latents and the
            goal image's latent, and nothing else. Refuses a state term here, and (in the
            controller) a world model whose states come from a probe or the simulator.
        ensemble: how an ensemble's members' costs combine (``world_model=a,b``):
            ``"mean"`` (PETS: the distance over the members' latents side by side) or
            ``"max"`` (pessimistic: a candidate costs what its worst member predicts, so CEM
            keeps only plans that every member predicts to reach the goal).
    """

    cost_type: str = "l1"
    cost_on: str = "last"
    latent_weight: float = 1.0
    state_weight: float = 0.0
    goal_state: str = "probe"
    state_dims: list[int] | None = None
    state_scales: list[float] | None = None
    latent_only: bool = False
    ensemble: str = "mean"

    def validate(self) -> None:
        if self.latent_only and (self.state_weight != 0 or self.latent_weight <= 0):
            raise ValueError(
                "cost.latent_only: the cost must be the latent distance alone; got "
                f"cost.state_weight={self.state_weight}, cost.latent_weight={self.latent_weight}"
            )
        if self.latent_only and self.goal_state == "given":
            raise ValueError(
                "cost.latent_only: the goal is the goal image's latent; cost.goal_state='given' "
                "(the env's goal state) is not part of the latent path"
            )
        if self.cost_type not in COST_TYPES:
            raise ValueError(f"cost.cost_type must be one of {COST_TYPES}, got {self.cost_type!r}")
        if self.cost_on not in COST_ON:
            raise ValueError(f"cost.cost_on must be one of {COST_ON}, got {self.cost_on!r}")
        if self.ensemble not in ENSEMBLE_COSTS:
            raise ValueError(
                f"cost.ensemble must be one of {ENSEMBLE_COSTS}, got {self.ensemble!r}"
            )
        for name in ("latent_weight", "state_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"cost.{name} must be >= 0, got {getattr(self, name)}")
        if self.latent_weight == 0 and self.state_weight == 0:
            raise ValueError("cost.latent_weight and cost.state_weight are both 0")
        if self.state_scales is not None:
            if any(float(v) <= 0 for v in self.state_scales):
                raise ValueError(f"cost.state_scales must be > 0, got {self.state_scales}")
            if self.state_dims is None or len(self.state_dims) != len(self.state_scales):
                raise ValueError(
                    "cost.state_scales needs cost.state_dims of the same "
                    f"length (one scale per compared dim), got {self.state_scales} for dims "
                    f"{self.state_dims}"
                )
        if self.goal_state not in GOAL_STATES:
            raise ValueError(
                f"cost.goal_state must be one of {GOAL_STATES}, got {self.goal_state!r}"
            )


def latent_distance(pred: Tensor, goal: Tensor, cost_type: str = "l1") -> Tensor:
    """Per-step distance between predictions ``(N, H, ...)`` and a goal broadcastable to them.

    Returns:
        ``(N, H)``: mean over every element after the first two dims.
    """
    diff = (pred - goal).float()
    if cost_type == "l1":
        d = diff.abs()
    elif cost_type == "l2":
        d = diff.square()
    else:
        raise ValueError(f"cost_type must be one of {COST_TYPES}, got {cost_type!r}")
    return d.flatten(2).mean(-1)  # (N, H)


def state_distance(
    s_pred: Tensor,
    s_goal: Tensor,
    dims: Sequence[int] | None = None,
    angle_dims: Sequence[int] = (),
    cost_type: str = "l1",
    scales: Sequence[float] | None = None,
) -> Tensor:
    """Per-step distance ``(N, H)`` between predicted states ``(N, H, S)`` and a goal.

    Args:
        s_goal: ``(K,)`` goal values of the state dims ``dims`` (all ``S`` dims when None).
        angle_dims: state indices compared modulo 2 pi.
        scales: ``(K,)`` divisors of the differences (angles after wrapping).
    """
    sel = s_pred if dims is None else s_pred[..., list(dims)]
    idx = list(range(s_pred.shape[-1])) if dims is None else list(dims)
    wrap = [i for i, d in enumerate(idx) if d in set(angle_dims)]
    diff = wrap_angles(sel - _as_goal(s_goal, sel, "state"), wrap)
    if scales is not None:
        diff = diff / torch.as_tensor(scales, dtype=diff.dtype, device=diff.device)
    return latent_distance(diff, torch.zeros((), device=diff.device), cost_type)


def _as_goal(goal: Tensor, pred: Tensor, what: str) -> Tensor:
    """Reshape a single goal (any leading singleton dims) to ``(1, 1, *pred.shape[2:])``."""
    per_step = pred.shape[2:]
    if goal.numel() != per_step.numel():
        raise ValueError(
            f"{what} goal has shape {tuple(goal.shape)}, expected one step "
            f"of shape {tuple(per_step)} (predictions are {tuple(pred.shape)})"
        )
    return goal.reshape(1, 1, *per_step).to(pred.device)


def goal_cost(
    z_pred: Tensor | None,
    z_goal: Tensor,
    cfg: CostConfig,
    s_pred: Tensor | None = None,
    s_goal: Tensor | None = None,
    state_dims: Sequence[int] | None = None,
    angle_dims: Sequence[int] = (),
) -> Tensor:
    """Cost of each candidate trajectory.

    Args:
        z_pred: predicted latents ``(N, H, ...)`` (may be None when ``latent_weight`` is 0).
        z_goal: the goal image's latent, one step (e.g. ``(1, 1, tokens, D)`` or ``(tokens, D)``).
        cfg: :class:`CostConfig`.
        s_pred: predicted proprioception ``(N, H, S)`` (for the state term).
        s_goal: the goal's values of ``state_dims`` (all dims when None); the state term is
            skipped when ``s_goal`` is None.
        state_dims: state indices ``s_goal`` holds.
        angle_dims: state indices compared modulo 2 pi.
    Returns:
        ``(N,)`` costs, lower is better.
    """
    terms = []
    if cfg.latent_weight > 0:
        if z_pred is None or z_pred.ndim < 3:
            raise ValueError(
                "z_pred must be (N, H, ...) with latent dims, got "
                f"{None if z_pred is None else tuple(z_pred.shape)}"
            )
        terms.append(
            cfg.latent_weight
            * latent_distance(z_pred, _as_goal(z_goal, z_pred, "latent"), cfg.cost_type)
        )
    if cfg.state_weight > 0 and s_goal is not None:
        if s_pred is None:
            raise ValueError("state_weight > 0 needs predicted states s_pred")
        terms.append(
            cfg.state_weight
            * state_distance(
                s_pred, s_goal, state_dims, angle_dims, cfg.cost_type, cfg.state_scales
            )
        )
    if not terms:
        raise ValueError("no cost term: latent_weight is 0 and the goal state is unknown")
    per_step = terms[0] if len(terms) == 1 else terms[0] + terms[1]
    if cfg.cost_on == "last":
        return per_step[:, -1]
    return per_step.sum(1)


def make_latent_cost(
    rollout: Callable[[Tensor], tuple[Tensor | None, Tensor]],
    z_goal: Tensor,
    cfg: CostConfig,
    s_goal: Tensor | None = None,
    state_dims: Sequence[int] | None = None,
    angle_dims: Sequence[int] = (),
    latent_sizes: Sequence[int] | None = None,
) -> Callable[[Tensor], Tensor]:
    """A planner cost: ``actions (N, H, A) -> (N,)`` through ``rollout(actions) -> (z, s)``.

    ``latent_sizes``: an ensemble's members' latent sizes, the parts of the latents' last dim
    (``EnsembleWorldModel.latent_sizes``); with ``cfg.ensemble="max"`` each member's part is
    scored on its own and a candidate costs its worst member's cost. The other arguments are
    those of :func:`goal_cost`.
    """
    if cfg.ensemble == "max" and not latent_sizes:
        raise ValueError(
            "cost.ensemble=max needs an ensemble of world models (world_model=runs/a,runs/b)"
        )

    def cost_fn(actions: Tensor) -> Tensor:
        z_pred, s_pred = rollout(actions)
        if cfg.ensemble == "max" and latent_sizes:
            if z_pred is None or z_pred.shape[-1] != sum(latent_sizes):
                raise ValueError(
                    f"cost.ensemble=max: predicted latents of last dim "
                    f"{None if z_pred is None else z_pred.shape[-1]}, expected the members' "
                    f"{list(latent_sizes)} side by side"
                )
            goals = z_goal.split(list(latent_sizes), dim=-1)
            parts = z_pred.split(list(latent_sizes), dim=-1)
            costs = [
                goal_cost(zp, zg, cfg, s_pred, s_goal, state_dims, angle_dims)
                for zp, zg in zip(parts, goals)
            ]
            return torch.stack(costs).amax(0)
        return goal_cost(z_pred, z_goal, cfg, s_pred, s_goal, state_dims, angle_dims)

    return cost_fn
