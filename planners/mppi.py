"""Model-predictive path integral (MPPI) planning as in TD-MPC2 (Hansen et al. 2024).

Same sampling loop as :mod:`planners.cem`, but the Gaussian is refitted to the elites
weighted by ``exp(temperature * (-cost - max(-cost)))`` (i.e. a softmax of ``-temperature *
cost`` over the elites; Williams et al. 2017) and the std is clamped to
``[min_std, max_std]``. TD-MPC2 uses 512 samples, 64 elites, 6 iterations, temperature 0.5,
std in [0.05, 2] (its "score" is a return; here it is the negated cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from planners.cem import CEM, CEMConfig

__all__ = ["MPPI", "MPPIConfig"]


@dataclass
class MPPIConfig(CEMConfig):
    """MPPI hyper-parameters (defaults as TD-MPC2).

    Args:
        temperature: inverse temperature of the elite weights; larger is greedier.
        max_std: ceiling of the std.
        return_type: ``"elite_mean"`` (score-weighted elite mean of the last iteration,
            the default), ``"mean"`` (final sampling mean) or ``"best"``.
        Other fields: see :class:`planners.cem.CEMConfig`.
    """

    num_samples: int = 512
    num_elites: int = 64
    iterations: int = 6
    init_std: float = 2.0
    temperature: float = 0.5
    max_std: float = 2.0

    def validate(self) -> None:
        super().validate()
        if self.temperature <= 0:
            raise ValueError(
                f"planners: MPPIConfig.temperature must be > 0, got {self.temperature}"
            )
        if self.max_std < self.min_std:
            raise ValueError(
                f"planners: MPPIConfig.max_std must be >= min_std, got {self.max_std} < {self.min_std}"
            )


class MPPI(CEM):
    """MPPI planner (TD-MPC2's exponentially weighted elite update).

    Args:
        cfg: :class:`MPPIConfig`.
        device: device of the sampled sequences (that of the cost function).
    """

    cfg: MPPIConfig

    def __init__(self, cfg: MPPIConfig | None = None, device: str | torch.device = "cpu") -> None:
        super().__init__(cfg if cfg is not None else MPPIConfig(), device)

    def _refit(self, elites: Tensor, elite_cost: Tensor) -> tuple[Tensor, Tensor]:
        # softmax(-T * cost) == exp(T * (-cost - max(-cost))) normalised; finite for inf costs.
        logits = -self.cfg.temperature * elite_cost.clamp(max=1e30)
        score = torch.softmax(logits, dim=0)[:, None, None]  # (num_elites, 1, 1)
        mean = (score * elites).sum(0)
        std = (score * (elites - mean) ** 2).sum(0).sqrt()
        return mean, std

    def _clamp_std(self, std: Tensor) -> Tensor:
        return std.clamp(self.cfg.min_std, self.cfg.max_std)
