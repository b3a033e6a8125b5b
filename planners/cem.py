"""Cross-entropy method (CEM) over open-loop action sequences.

Follows the CEM used for latent planning in PlaNet (Hafner et al. 2019), DINO-WM (Zhou et
al. 2024) and TD-MPC2 (Hansen et al. 2024): a diagonal Gaussian per planned step, sample,
clamp to the action bounds, keep the ``num_elites`` lowest-cost sequences, refit mean and
std (optionally blended with the previous ones by ``momentum``), floor the std at
``min_std``, repeat. The returned plan is by default the mean of the last iteration's
elites, which is what DINO-WM (no momentum: its final mean) and TD-MPC2 (its elite mean)
execute; ``return_type="best"`` returns the lowest-cost sequence ever sampled and
``"mean"`` the final (momentum-blended) sampling mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from planners.base import CostFn, Planner, PlannerConfig

__all__ = ["CEM", "CEMConfig"]

_RETURN_TYPES = ("elite_mean", "mean", "best")


@dataclass
class CEMConfig(PlannerConfig):
    """CEM hyper-parameters (defaults: the common protocol, 300 x 30 elites x 30 iterations).

    Args:
        num_samples: sequences sampled per iteration.
        num_elites: lowest-cost sequences the Gaussian is refitted to.
        iterations: sample/refit rounds per ``plan`` call.
        init_std: std of the sampling Gaussian at the start of every call.
        min_std: floor of the std (keeps exploring after collapse).
        momentum: weight of the previous mean/std in the refit
            (``new = momentum * old + (1 - momentum) * elite``); 0 refits outright.
        include_mean: also evaluate the current mean itself each iteration (sample 0), so a
            good warm start is never lost to sampling noise.
        return_type: ``"elite_mean"`` (mean of the last elites), ``"mean"`` (final sampling
            mean) or ``"best"`` (lowest-cost sequence ever sampled).
    """

    num_samples: int = 300
    num_elites: int = 30
    iterations: int = 30
    init_std: float = 1.0
    min_std: float = 0.05
    momentum: float = 0.0
    include_mean: bool = True
    return_type: str = "elite_mean"

    def validate(self) -> None:
        super().validate()
        name = type(self).__name__
        if not 1 <= self.num_elites <= self.num_samples:
            raise ValueError(
                f"planners: {name}.num_elites must be in [1, num_samples={self.num_samples}], "
                f"got {self.num_elites}"
            )
        if self.iterations < 1:
            raise ValueError(f"planners: {name}.iterations must be >= 1, got {self.iterations}")
        if self.init_std <= 0 or self.min_std < 0:
            raise ValueError(
                f"planners: {name}.init_std must be > 0 and min_std >= 0, "
                f"got init_std={self.init_std} min_std={self.min_std}"
            )
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"planners: {name}.momentum must be in [0, 1), got {self.momentum}")
        if self.return_type not in self._return_types():
            raise ValueError(
                f"planners: {name}.return_type must be one of {self._return_types()}, "
                f"got {self.return_type!r}"
            )

    def _return_types(self) -> tuple[str, ...]:
        return _RETURN_TYPES


class CEM(Planner):
    """Cross-entropy method planner.

    Args:
        cfg: :class:`CEMConfig`.
        device: device of the sampled sequences (that of the cost function).
    """

    cfg: CEMConfig

    def __init__(self, cfg: CEMConfig | None = None, device: str | torch.device = "cpu") -> None:
        super().__init__(cfg if cfg is not None else CEMConfig(), device)

    def _refit(self, elites: Tensor, elite_cost: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and std ``(horizon, action_dim)`` of the elites ``(num_elites, H, A)``."""
        return elites.mean(0), elites.std(0, unbiased=False)

    @torch.no_grad()
    def plan(
        self,
        cost_fn: CostFn,
        init: Tensor | None = None,
        generator: torch.Generator | None = None,
        init_std: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Any]]:
        """Search for the action sequence of lowest cost.

        Args:
            cost_fn: maps ``(num_samples, horizon, action_dim)`` to ``(num_samples,)`` costs.
            init: ``(horizon, action_dim)`` warm-start mean (default zeros).
            generator: source of randomness (default: a new one seeded with ``cfg.seed``).
            init_std: ``(horizon, action_dim)`` starting std (default ``cfg.init_std``), e.g.
                the previous std shifted with ``planners.shift(std, k, cfg.init_std)``.
        Returns:
            ``(actions (horizon, action_dim), info)`` with ``info`` keys ``cost_per_iter``
            (best sampled cost per iteration), ``elite_cost_per_iter`` (mean elite cost),
            ``mean``, ``std`` (final sampling distribution), ``best`` and ``best_cost``.
        """
        cfg = self.cfg
        g = generator if generator is not None else self.make_generator()
        shape = (cfg.num_samples, cfg.horizon, cfg.action_dim)
        mean = self._check_init(init)
        mean = torch.zeros(self.shape, device=self.device) if mean is None else mean.clone()
        std = self._check_init(init_std, "init_std")
        std = torch.full(self.shape, cfg.init_std, device=self.device) if std is None else std
        best = mean.clone()
        best_cost = torch.tensor(float("inf"), device=self.device)
        best_per_iter, elite_per_iter = [], []
        refit_mean = mean
        for _ in range(cfg.iterations):
            noise = torch.randn(shape, generator=g, device=self.device)
            actions = self._clamp(mean + std * noise)  # (num_samples, H, A)
            if cfg.include_mean:
                actions[0] = self._clamp(mean)
            cost = self._check_cost(cost_fn(actions), cfg.num_samples)
            elite_cost, idx = torch.topk(cost, cfg.num_elites, largest=False, sorted=True)
            elites = actions[idx]  # (num_elites, H, A)
            refit_mean, refit_std = self._refit(elites, elite_cost)
            mean = cfg.momentum * mean + (1.0 - cfg.momentum) * refit_mean
            std = (cfg.momentum * std + (1.0 - cfg.momentum) * refit_std).clamp_min(cfg.min_std)
            std = self._clamp_std(std)
            better = elite_cost[0] < best_cost
            best = torch.where(better, elites[0], best)
            best_cost = torch.where(better, elite_cost[0], best_cost)
            best_per_iter.append(elite_cost[0])
            elite_per_iter.append(elite_cost.mean())
        if cfg.return_type == "best":
            out = best
        elif cfg.return_type == "mean":
            out = mean
        else:
            out = refit_mean
        out = self._clamp(out)
        info = {
            "cost_per_iter": torch.stack(best_per_iter).tolist(),
            "elite_cost_per_iter": torch.stack(elite_per_iter).tolist(),
            "mean": mean,
            "std": std,
            "best": best,
            "best_cost": float(best_cost),
        }
        return out, info

    def _clamp_std(self, std: Tensor) -> Tensor:
        return std
