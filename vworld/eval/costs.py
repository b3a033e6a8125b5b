"""Goal-reaching costs in latent space for planning with a world model.

As in DINO-WM (Zhou et al. 2024) and V-JEPA 2-AC (Assran et al. 2025): a candidate action
sequence is scored by the distance between the world model's predicted latent and the
latent of the goal image, either on the last predicted step (V-JEPA 2-AC's L1 energy) or
summed over the horizon (DINO-WM's ``"all"`` objective), plus an optional weighted
distance between predicted and goal proprioception when the goal's proprioception is known.

Distances are means over the latent's elements (``"l1"``: mean absolute difference, as
V-JEPA 2-AC; ``"l2"``: mean squared difference, as DINO-WM's MSE objective), so the scale
does not depend on the number of tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

__all__ = ["CostConfig", "goal_cost", "latent_distance", "make_latent_cost"]

COST_TYPES = ("l1", "l2")
COST_ON = ("last", "all")


@dataclass
class CostConfig:
    """How a predicted trajectory is scored against the goal.

    Args:
        cost_type: ``"l1"`` (mean absolute difference) or ``"l2"`` (mean squared difference).
        cost_on: ``"last"`` (final predicted step only) or ``"all"`` (sum over the horizon).
        state_weight: weight of the proprioceptive term (0 disables it; it is also skipped
            when the goal's proprioception is unknown).
    """

    cost_type: str = "l1"
    cost_on: str = "last"
    state_weight: float = 0.0

    def validate(self) -> None:
        if self.cost_type not in COST_TYPES:
            raise ValueError(
                f"vworld/eval/costs.py: cost.cost_type must be one of {COST_TYPES}, "
                f"got {self.cost_type!r}"
            )
        if self.cost_on not in COST_ON:
            raise ValueError(
                f"vworld/eval/costs.py: cost.cost_on must be one of {COST_ON}, got {self.cost_on!r}"
            )
        if self.state_weight < 0:
            raise ValueError(
                f"vworld/eval/costs.py: cost.state_weight must be >= 0, got {self.state_weight}"
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
        raise ValueError(
            f"vworld/eval/costs.py: cost_type must be one of {COST_TYPES}, got {cost_type!r}"
        )
    return d.flatten(2).mean(-1)  # (N, H)


def _as_goal(goal: Tensor, pred: Tensor, what: str) -> Tensor:
    """Reshape a single goal (any leading singleton dims) to ``(1, 1, *pred.shape[2:])``."""
    per_step = pred.shape[2:]
    if goal.numel() != per_step.numel():
        raise ValueError(
            f"vworld/eval/costs.py: {what} goal has shape {tuple(goal.shape)}, expected one step "
            f"of shape {tuple(per_step)} (predictions are {tuple(pred.shape)})"
        )
    return goal.reshape(1, 1, *per_step).to(pred.device)


def goal_cost(
    z_pred: Tensor,
    z_goal: Tensor,
    cfg: CostConfig,
    s_pred: Tensor | None = None,
    s_goal: Tensor | None = None,
) -> Tensor:
    """Cost of each candidate trajectory.

    Args:
        z_pred: predicted latents ``(N, H, ...)``.
        z_goal: the goal image's latent, one step (e.g. ``(1, 1, tokens, D)`` or ``(tokens, D)``).
        cfg: :class:`CostConfig`.
        s_pred: predicted proprioception ``(N, H, S)`` (for the state term).
        s_goal: the goal's proprioception ``(S,)`` (state term skipped when None).
    Returns:
        ``(N,)`` costs, lower is better.
    """
    if z_pred.ndim < 3:
        raise ValueError(
            f"vworld/eval/costs.py: z_pred must be (N, H, ...) with latent dims, got {tuple(z_pred.shape)}"
        )
    per_step = latent_distance(z_pred, _as_goal(z_goal, z_pred, "latent"), cfg.cost_type)
    if cfg.state_weight > 0 and s_goal is not None:
        if s_pred is None:
            raise ValueError("vworld/eval/costs.py: state_weight > 0 needs predicted states s_pred")
        per_step = per_step + cfg.state_weight * latent_distance(
            s_pred, _as_goal(s_goal, s_pred, "state"), cfg.cost_type
        )
    if cfg.cost_on == "last":
        return per_step[:, -1]
    return per_step.sum(1)


def make_latent_cost(
    rollout: Callable[[Tensor], tuple[Tensor, Tensor]],
    z_goal: Tensor,
    cfg: CostConfig,
    s_goal: Tensor | None = None,
) -> Callable[[Tensor], Tensor]:
    """A planner cost: ``actions (N, H, A) -> (N,)`` through ``rollout(actions) -> (z, s)``."""

    def cost_fn(actions: Tensor) -> Tensor:
        z_pred, s_pred = rollout(actions)
        return goal_cost(z_pred, z_goal, cfg, s_pred, s_goal)

    return cost_fn
