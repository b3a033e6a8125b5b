"""Gradient-based planning: Adam on the action sequence through a differentiable cost.

As the gradient-descent planner of DINO-WM (Zhou et al. 2024) and the "GD" baselines of
latent planning papers: several random restarts are optimised in one batch (the cost is
per sequence, so summing the batch cost keeps restarts independent), the sequence is kept
inside the bounds by a tanh reparameterisation (``param="tanh"``) or by clamping after
every step (``param="clamp"``), and the lowest-cost sequence ever evaluated is returned.
Gradients are taken with ``torch.autograd.grad`` with respect to the actions only, so a
world model's parameters never accumulate ``.grad``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from planners.base import CostFn, Planner, PlannerConfig

__all__ = ["GradientConfig", "GradientPlanner"]


@dataclass
class GradientConfig(PlannerConfig):
    """Gradient-descent planner hyper-parameters.

    Args:
        num_samples: restarts optimised together; restart 0 starts exactly at ``init``.
        iterations: Adam steps.
        lr: Adam learning rate (in the tanh pre-image for ``param="tanh"``).
        init_std: std of the Gaussian noise added to ``init`` for the other restarts.
        param: ``"tanh"`` (actions = centre + half_range * tanh(u)) or ``"clamp"``.
    """

    num_samples: int = 8
    iterations: int = 50
    lr: float = 0.1
    init_std: float = 0.5
    param: str = "tanh"

    def validate(self) -> None:
        super().validate()
        if self.num_samples < 1 or self.iterations < 1:
            raise ValueError(
                "planners: GradientConfig.num_samples and .iterations must be >= 1, "
                f"got {self.num_samples} and {self.iterations}"
            )
        if self.lr <= 0:
            raise ValueError(f"planners: GradientConfig.lr must be > 0, got {self.lr}")
        if self.param not in ("tanh", "clamp"):
            raise ValueError(
                f"planners: GradientConfig.param must be 'tanh' or 'clamp', got {self.param!r}"
            )


class GradientPlanner(Planner):
    """Adam on a batch of action sequences through a differentiable ``cost_fn``.

    Args:
        cfg: :class:`GradientConfig`.
        device: device of the optimised sequences (that of the cost function).
    """

    cfg: GradientConfig

    def __init__(
        self, cfg: GradientConfig | None = None, device: str | torch.device = "cpu"
    ) -> None:
        super().__init__(cfg if cfg is not None else GradientConfig(), device)
        self._mid = 0.5 * (self.cfg.high + self.cfg.low)
        self._half = 0.5 * (self.cfg.high - self.cfg.low)

    def _to_actions(self, u: Tensor) -> Tensor:
        if self.cfg.param == "tanh":
            return self._mid + self._half * torch.tanh(u)
        return u

    def _from_actions(self, a: Tensor) -> Tensor:
        if self.cfg.param == "tanh":
            y = ((a - self._mid) / self._half).clamp(-0.999, 0.999)
            return torch.atanh(y)
        return self._clamp(a)

    def _adam_step(self, u: Tensor, grad: Tensor, m: Tensor, v: Tensor, t: int) -> None:
        # Adam (Kingma & Ba 2015) written out: torch.optim's first step imports torch._dynamo
        # (and triton), which crashes in a process that already holds an EGL context.
        b1, b2, eps = 0.9, 0.999, 1e-8
        m.mul_(b1).add_(grad, alpha=1 - b1)
        v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        u.sub_(self.cfg.lr * m_hat / (v_hat.sqrt() + eps))

    def plan(
        self,
        cost_fn: CostFn,
        init: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, dict[str, Any]]:
        """Optimise the action sequence by gradient descent on ``cost_fn``.

        Args:
            cost_fn: differentiable map ``(num_samples, horizon, action_dim)`` to
                ``(num_samples,)`` costs.
            init: ``(horizon, action_dim)`` starting sequence (default zeros).
            generator: source of the restarts' noise (default: seeded with ``cfg.seed``).
        Returns:
            ``(actions (horizon, action_dim), info)``: the lowest-cost sequence evaluated;
            ``info`` has ``cost_per_iter`` (best cost per step), ``mean`` (the returned
            sequence), ``std`` (spread of the final restarts), ``best_cost``.
        """
        cfg = self.cfg
        g = generator if generator is not None else self.make_generator()
        start = self._check_init(init)
        start = torch.zeros(self.shape, device=self.device) if start is None else start
        shape = (cfg.num_samples, cfg.horizon, cfg.action_dim)
        noise = torch.randn(shape, generator=g, device=self.device) * cfg.init_std
        noise[0] = 0.0
        a0 = self._clamp(start[None] + noise)  # (num_samples, H, A)
        u = self._from_actions(a0).detach().requires_grad_(True)
        m, v = torch.zeros_like(u), torch.zeros_like(u)  # Adam moments
        best = a0[0].clone()
        best_cost = torch.tensor(math.inf, device=self.device)
        per_iter = []
        with torch.enable_grad():
            for step in range(cfg.iterations + 1):
                actions = self._to_actions(u)
                cost = cost_fn(actions)
                if cost.shape != (cfg.num_samples,):
                    raise ValueError(
                        f"planners: cost_fn must return shape ({cfg.num_samples},), "
                        f"got {tuple(cost.shape)}"
                    )
                c = torch.nan_to_num(cost.detach().float(), nan=math.inf)
                i = torch.argmin(c)
                better = c[i] < best_cost
                best = torch.where(better, actions.detach()[i], best)
                best_cost = torch.where(better, c[i], best_cost)
                per_iter.append(c[i])
                if step == cfg.iterations:
                    break  # the last evaluation only scores the final sequences
                (grad,) = torch.autograd.grad(cost.sum(), u)
                with torch.no_grad():
                    self._adam_step(u, torch.nan_to_num(grad), m, v, step + 1)
                    if cfg.param == "clamp":
                        u.clamp_(cfg.low, cfg.high)
        final = self._to_actions(u).detach()
        best = self._clamp(best)
        info = {
            "cost_per_iter": torch.stack(per_iter).tolist(),
            "mean": best,
            "std": final.std(0, unbiased=False),
            "best": best,
            "best_cost": float(best_cost),
        }
        return best, info
