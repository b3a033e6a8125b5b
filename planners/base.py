"""The planner interface shared by CEM, MPPI and gradient descent.

A planner searches over open-loop action sequences ``(horizon, action_dim)`` for one that
minimises a batched cost, as in model-predictive control with a learned world model
(TD-MPC2, Hansen et al. 2024; DINO-WM, Zhou et al. 2024; V-JEPA 2-AC, Assran et al. 2025).
The planner sees only the cost function: no environment, no I/O, no logging. Randomness
comes from an explicit ``torch.Generator`` so that a seed fixes the result.

Warm start (receding horizon): after executing ``k`` planned steps, the next search starts
from the previous mean shifted left by ``k`` with the tail padded (:func:`shift`); the
sampling std starts at ``init_std`` everywhere unless a shifted std is passed too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["CostFn", "Planner", "PlannerConfig", "shift"]

# cost_fn(actions (num_samples, horizon, action_dim)) -> (num_samples,), lower is better.
CostFn = Callable[[Tensor], Tensor]


@dataclass
class PlannerConfig:
    """Fields every planner shares.

    Args:
        horizon: number of planned actions in a sequence.
        action_dim: size of one action.
        low: lower bound of every action component.
        high: upper bound of every action component.
        seed: seed of the generator used when ``plan`` is called without one.
    """

    horizon: int = 5
    action_dim: int = 2
    low: float = -1.0
    high: float = 1.0
    seed: int = 0

    def validate(self) -> None:
        name = type(self).__name__
        if self.horizon < 1:
            raise ValueError(f"planners: {name}.horizon must be >= 1, got {self.horizon}")
        if self.action_dim < 1:
            raise ValueError(f"planners: {name}.action_dim must be >= 1, got {self.action_dim}")
        if not self.low < self.high:
            raise ValueError(
                f"planners: {name}.low must be < {name}.high, got low={self.low} high={self.high}"
            )


def shift(seq: Tensor, steps: int, fill: float | Tensor = 0.0) -> Tensor:
    """Shift a plan (or its std) left by ``steps`` executed steps and pad the end.

    Args:
        seq: ``(horizon, action_dim)`` plan from the previous call.
        steps: how many of its first steps were executed (``>= 0``).
        fill: value of the new tail: a scalar (0 for a mean, ``init_std`` for a std) or an
            ``(action_dim,)`` tensor (e.g. the last planned action).
    Returns:
        ``(horizon, action_dim)`` tensor; ``steps >= horizon`` gives the fill everywhere.
    """
    if seq.ndim != 2:
        raise ValueError(
            f"planners.shift: expected seq of shape (horizon, action_dim), got {tuple(seq.shape)}"
        )
    if steps < 0:
        raise ValueError(f"planners.shift: steps must be >= 0, got {steps}")
    horizon = seq.shape[0]
    out = torch.empty_like(seq)
    keep = max(horizon - steps, 0)
    out[:keep] = seq[steps:]
    out[keep:] = torch.as_tensor(fill, dtype=seq.dtype, device=seq.device)
    return out


class Planner(ABC):
    """Base class: holds the config and the device the search runs on.

    Args:
        cfg: the planner's config dataclass.
        device: where sampled action sequences live (the cost function's device).
    """

    cfg: PlannerConfig

    def __init__(self, cfg: PlannerConfig, device: str | torch.device = "cpu") -> None:
        cfg.validate()
        self.cfg = cfg
        self.device = torch.device(device)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.cfg.horizon, self.cfg.action_dim)

    def make_generator(self, seed: int | None = None) -> torch.Generator:
        """A generator on the planner's device, seeded with ``seed`` (default ``cfg.seed``)."""
        g = torch.Generator(device=self.device)
        g.manual_seed(self.cfg.seed if seed is None else seed)
        return g

    def shift(self, plan: Tensor, steps: int) -> Tensor:
        """Warm start for the next call: ``plan`` shifted left by ``steps``, zero-padded."""
        return shift(plan, steps, 0.0)

    def _check_init(self, init: Tensor | None, what: str = "init") -> Tensor | None:
        if init is None:
            return None
        if tuple(init.shape) != self.shape:
            raise ValueError(
                f"planners: {what} must have shape (horizon, action_dim)={self.shape}, "
                f"got {tuple(init.shape)}"
            )
        return init.detach().to(self.device, torch.float32)

    def _check_cost(self, cost: Tensor, n: int) -> Tensor:
        if cost.shape != (n,):
            raise ValueError(
                f"planners: cost_fn must return shape (num_samples,)=({n},), got {tuple(cost.shape)}"
            )
        # A NaN must never win the argmin/topk: treat it as infinitely bad.
        return torch.nan_to_num(cost.float(), nan=float("inf"))

    def _clamp(self, actions: Tensor) -> Tensor:
        return actions.clamp(self.cfg.low, self.cfg.high)

    @abstractmethod
    def plan(
        self,
        cost_fn: CostFn,
        init: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, dict[str, Any]]:
        """Search for the action sequence of lowest cost.

        Args:
            cost_fn: maps ``(num_samples, horizon, action_dim)`` to ``(num_samples,)`` costs.
            init: ``(horizon, action_dim)`` warm-start mean (default zeros).
            generator: source of randomness (default: a new one seeded with ``cfg.seed``).
        Returns:
            ``(actions (horizon, action_dim), info)``; ``info`` holds at least
            ``cost_per_iter`` (best sampled cost per iteration), ``mean`` and ``std``.
        """
