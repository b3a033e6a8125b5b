"""CEM, MPPI and gradient planners on known quadratic costs."""

from __future__ import annotations

import pytest
import torch

from planners import (
    CEM,
    MPPI,
    CEMConfig,
    GradientConfig,
    GradientPlanner,
    MPPIConfig,
    make_planner,
    shift,
)

H, A = 4, 3


def quadratic(target: torch.Tensor):
    def cost(actions: torch.Tensor) -> torch.Tensor:
        return ((actions - target) ** 2).sum(dim=(1, 2))

    return cost


def target_inside() -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    return torch.rand(H, A, generator=g) * 1.2 - 0.6  # inside [-1, 1]


def small_cem(**kw) -> CEMConfig:
    base = dict(horizon=H, action_dim=A, num_samples=200, num_elites=20, iterations=15)
    base.update(kw)
    return CEMConfig(**base)


def small_mppi(**kw) -> MPPIConfig:
    base = dict(
        horizon=H, action_dim=A, num_samples=200, num_elites=20, iterations=20, init_std=1.0
    )
    base.update(kw)
    return MPPIConfig(**base)


@pytest.mark.parametrize("make", [lambda: CEM(small_cem()), lambda: MPPI(small_mppi())])
def test_sampling_planners_find_quadratic_minimum(make):
    target = target_inside()
    planner = make()
    plan, info = planner.plan(quadratic(target))
    assert plan.shape == (H, A)
    assert torch.allclose(plan, target, atol=0.1), (plan - target).abs().max()
    assert len(info["cost_per_iter"]) == planner.cfg.iterations
    assert info["cost_per_iter"][-1] < info["cost_per_iter"][0]
    assert info["mean"].shape == (H, A) and info["std"].shape == (H, A)


@pytest.mark.parametrize("make", [lambda: CEM(small_cem()), lambda: MPPI(small_mppi())])
def test_minimum_outside_bounds_is_clamped(make):
    target = torch.full((H, A), 1.5)
    target[:, 0] = -1.5
    target[:, 1] = 0.5
    planner = make()
    seen = []

    def cost(actions):
        seen.append(actions.clone())
        return quadratic(target)(actions)

    plan, _ = planner.plan(cost)
    every = torch.cat(seen)
    assert every.min() >= -1.0 and every.max() <= 1.0
    expected = target.clamp(-1, 1)
    assert torch.allclose(plan, expected, atol=0.1), plan


def test_custom_bounds_respected():
    planner = CEM(small_cem(low=-0.2, high=0.3))
    plan, _ = planner.plan(quadratic(torch.ones(H, A)))
    assert torch.allclose(plan, torch.full((H, A), 0.3), atol=0.05)
    assert plan.max() <= 0.3


@pytest.mark.parametrize(
    "make",
    [
        lambda: CEM(small_cem(iterations=3)),
        lambda: MPPI(small_mppi(iterations=3)),
        lambda: GradientPlanner(GradientConfig(horizon=H, action_dim=A, iterations=3)),
    ],
)
def test_same_seed_same_result(make):
    cost = quadratic(target_inside())
    p1, i1 = make().plan(cost, generator=torch.Generator().manual_seed(7))
    p2, i2 = make().plan(cost, generator=torch.Generator().manual_seed(7))
    _, i3 = make().plan(cost, generator=torch.Generator().manual_seed(8))
    assert torch.equal(p1, p2)
    assert i1["cost_per_iter"] == i2["cost_per_iter"]
    assert not torch.equal(i1["std"], i3["std"])
    # without a generator the config's seed decides
    assert torch.equal(make().plan(cost)[0], make().plan(cost)[0])


def test_shift_pads_tail():
    plan = torch.arange(H * A, dtype=torch.float32).reshape(H, A)
    out = shift(plan, 1)
    assert torch.equal(out[:-1], plan[1:])
    assert torch.equal(out[-1], torch.zeros(A))
    std = shift(torch.full((H, A), 0.1), 2, fill=1.0)
    assert torch.equal(std[:2], torch.full((2, A), 0.1)) and torch.equal(std[2:], torch.ones(2, A))
    assert torch.equal(shift(plan, H + 3), torch.zeros(H, A))
    assert torch.equal(shift(plan, 0), plan)
    assert torch.equal(CEM(small_cem()).shift(plan, 1), out)


def test_warm_start_from_shifted_plan():
    # The target moves by one step: a warm start from the shifted previous plan is already
    # close, and with a single iteration it beats a cold start.
    full = torch.linspace(-0.9, 0.9, H + 1)[:, None].repeat(1, A)
    planner = CEM(small_cem(iterations=1, init_std=0.5))
    first, _ = CEM(small_cem()).plan(quadratic(full[:H]))
    init = planner.shift(first, 1)
    init[-1] = first[-1]  # a sensible guess for the new tail
    cost2 = quadratic(full[1:])
    warm, wi = planner.plan(cost2, init=init)
    cold, ci = planner.plan(cost2)
    assert torch.allclose(init[:-1], first[1:])
    assert cost2(warm[None]).item() < cost2(cold[None]).item()
    assert wi["cost_per_iter"][0] < ci["cost_per_iter"][0]


def test_init_std_argument_and_shape_errors():
    planner = CEM(small_cem(iterations=2))
    cost = quadratic(target_inside())
    planner.plan(cost, init_std=torch.full((H, A), 0.1))
    with pytest.raises(ValueError, match="init must have shape"):
        planner.plan(cost, init=torch.zeros(H + 1, A))
    with pytest.raises(ValueError, match="cost_fn must return"):
        planner.plan(lambda a: a.sum(-1))
    with pytest.raises(ValueError, match="num_elites"):
        CEM(CEMConfig(num_samples=10, num_elites=20))
    with pytest.raises(ValueError, match="return_type"):
        CEM(CEMConfig(return_type="bogus"))


def test_nan_costs_never_selected():
    target = target_inside()

    def cost(actions):
        c = quadratic(target)(actions)
        c[1::2] = float("nan")
        return c

    plan, _ = CEM(small_cem()).plan(cost)
    assert torch.isfinite(plan).all()
    assert torch.allclose(plan, target, atol=0.15)


@pytest.mark.parametrize("return_type", ["elite_mean", "mean", "best"])
def test_return_types(return_type):
    target = target_inside()
    plan, info = CEM(small_cem(return_type=return_type, momentum=0.3)).plan(quadratic(target))
    assert torch.allclose(plan, target, atol=0.15)
    if return_type == "best":
        assert torch.equal(plan, info["best"])
        assert quadratic(target)(plan[None]).item() == pytest.approx(info["best_cost"])


@pytest.mark.parametrize("param", ["tanh", "clamp"])
def test_gradient_finds_quadratic_minimum(param):
    target = target_inside()
    cfg = GradientConfig(horizon=H, action_dim=A, iterations=150, lr=0.05, param=param)
    plan, info = GradientPlanner(cfg).plan(quadratic(target))
    assert torch.allclose(plan, target, atol=0.05)
    assert info["cost_per_iter"][-1] < info["cost_per_iter"][0]


def test_gradient_respects_bounds_and_leaves_params_alone():
    w = torch.nn.Parameter(torch.ones(()))
    target = torch.full((H, A), 2.0)

    def cost(actions):
        return w * ((actions - target) ** 2).sum(dim=(1, 2))

    cfg = GradientConfig(horizon=H, action_dim=A, iterations=150, lr=0.1, param="clamp")
    plan, _ = GradientPlanner(cfg).plan(cost)
    assert plan.max() <= 1.0
    assert torch.allclose(plan, torch.ones(H, A), atol=0.02)
    assert w.grad is None


def test_make_planner():
    assert isinstance(make_planner("cem"), CEM)
    assert isinstance(make_planner("mppi"), MPPI)
    assert isinstance(make_planner("gd"), GradientPlanner)
    cfg = CEMConfig()
    assert (cfg.num_samples, cfg.num_elites, cfg.iterations, cfg.horizon) == (300, 30, 30, 5)
    with pytest.raises(ValueError, match="unknown planner"):
        make_planner("bogus")
