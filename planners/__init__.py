"""Pure search over action sequences for model-predictive control: CEM, MPPI, gradient.

Each planner takes a batched cost ``cost_fn(actions (N, horizon, action_dim)) -> (N,)`` and
returns ``(plan (horizon, action_dim), info)``. No environment, no I/O, no logging; seeded
by an explicit ``torch.Generator``. This package never imports ``vworld``.
"""

from planners.base import CostFn, Planner, PlannerConfig, shift
from planners.cem import CEM, CEMConfig
from planners.gradient import GradientConfig, GradientPlanner
from planners.mppi import MPPI, MPPIConfig

__all__ = [
    "CEM",
    "MPPI",
    "CEMConfig",
    "CostFn",
    "GradientConfig",
    "GradientPlanner",
    "MPPIConfig",
    "Planner",
    "PlannerConfig",
    "make_planner",
    "shift",
]

_PLANNERS: dict[str, tuple[type[Planner], type[PlannerConfig]]] = {
    "cem": (CEM, CEMConfig),
    "mppi": (MPPI, MPPIConfig),
    "gd": (GradientPlanner, GradientConfig),
}


def make_planner(name: str, cfg: PlannerConfig | None = None, device: str = "cpu") -> Planner:
    """Build a planner by name (``"cem"``, ``"mppi"``, ``"gd"``).

    Args:
        name: planner name.
        cfg: its config (default: the planner's defaults).
        device: device of the sampled sequences.
    """
    if name not in _PLANNERS:
        raise ValueError(
            f"planners.make_planner: unknown planner {name!r}, expected one of {sorted(_PLANNERS)}"
        )
    cls, cfg_cls = _PLANNERS[name]
    if cfg is None:
        cfg = cfg_cls()
    if not isinstance(cfg, cfg_cls):
        raise TypeError(
            f"planners.make_planner: {name!r} needs a {cfg_cls.__name__}, got {type(cfg).__name__}"
        )
    return cls(cfg, device=device)  # type: ignore[call-arg]
