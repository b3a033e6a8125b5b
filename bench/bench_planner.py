"""Planning seconds per executed step: CEM 300 samples x 30 elites x 30 iterations, horizon 5.

With ``--world-model PATH`` the cost is the real latent cost (encode a random frame and goal,
roll out every candidate through ``world_model.rollout``); without it, a stand-in world model
(an MLP residual predictor over ``--tokens`` x ``--dim`` latents) of adjustable size. Prints
seconds per ``plan`` call and per executed env step (one plan per ``receding_horizon`` planned
actions, each held ``action_block`` env steps), for CEM, MPPI and the gradient planner side
by side.

    python bench/bench_planner.py --device cpu --tokens 64 --dim 384
    python bench/bench_planner.py --world-model runs/ac/last --device cuda
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import Tensor

from planners import CEMConfig, GradientConfig, MPPIConfig, make_planner
from vworld.eval.costs import CostConfig, goal_cost


class StandInWorldModel(torch.nn.Module):
    """Latents ``(tokens, dim)``; each step adds an MLP of (latent, action) to the latent."""

    def __init__(self, tokens: int, dim: int, action_dim: int, state_dim: int = 4) -> None:
        super().__init__()
        self.tokens, self.dim = tokens, dim
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(dim + action_dim, 4 * dim),
            torch.nn.GELU(),
            torch.nn.Linear(4 * dim, dim),
        )
        self.state = torch.nn.Linear(state_dim + action_dim, state_dim)

    def encode(self, frames: Tensor) -> Tensor:
        b, t = frames.shape[:2]
        return torch.randn(b, t, self.tokens, self.dim, device=frames.device)

    def rollout(
        self, z_context: Tensor, s_context: Tensor, actions: Tensor
    ) -> tuple[Tensor, Tensor]:
        n, horizon, _ = actions.shape
        z = z_context[:, -1].expand(n, -1, -1)  # (N, tokens, dim)
        s = s_context[:, -1].expand(n, -1)  # (N, S)
        zs, ss = [], []
        for h in range(horizon):
            a = actions[:, h]
            z = z + self.mlp(torch.cat([z, a[:, None].expand(-1, self.tokens, -1)], -1))
            s = s + self.state(torch.cat([s, a], -1))
            zs.append(z)
            ss.append(s)
        return torch.stack(zs, 1), torch.stack(ss, 1)  # (N, H, tokens, dim), (N, H, S)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--world-model", default="", help="path for vworld.world_model.load_world_model")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--frame-size", type=int, default=64)
    p.add_argument("--action-dim", type=int, default=2)
    p.add_argument("--state-dim", type=int, default=4)
    p.add_argument("--horizon", type=int, default=5)
    p.add_argument("--action-block", type=int, default=5)
    p.add_argument("--receding-horizon", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.world_model:
        from vworld.world_model import load_world_model

        wm = load_world_model(args.world_model, device=device)
        label = args.world_model
    else:
        wm = StandInWorldModel(args.tokens, args.dim, args.action_dim, args.state_dim).to(device)
        label = f"stand-in MLP world model, {args.tokens} tokens x {args.dim}"
    s = args.frame_size
    frames = torch.randint(0, 256, (1, 1, 3, s, s), dtype=torch.uint8, device=device)
    goal = torch.randint(0, 256, (1, 1, 3, s, s), dtype=torch.uint8, device=device)
    with torch.no_grad():
        z_ctx, z_goal = wm.encode(frames), wm.encode(goal)
    s_ctx = torch.zeros(1, 1, args.state_dim, device=device)
    cost_cfg = CostConfig()

    def cost_fn(actions: Tensor) -> Tensor:
        z_pred, s_pred = wm.rollout(z_ctx, s_ctx, actions)
        return goal_cost(z_pred, z_goal, cost_cfg, s_pred, None)

    common = dict(horizon=args.horizon, action_dim=args.action_dim)
    setups = {
        "cem 300x30x30": ("cem", CEMConfig(**common)),
        "mppi 512x64x6": ("mppi", MPPIConfig(**common)),
        "gd 8 restarts x 50": ("gd", GradientConfig(**common)),
    }

    def trivial_cost(actions: Tensor) -> Tensor:
        return actions.square().sum(dim=(1, 2))

    executed = args.receding_horizon * args.action_block
    print(
        f"world model: {label}; device {device}; horizon {args.horizon}; "
        f"{executed} env steps executed per plan"
    )
    for cost_name, fn in (
        ("planner alone (quadratic cost)", trivial_cost),
        ("world model", cost_fn),
    ):
        print(f" {cost_name}:")
        for name, (kind, cfg) in setups.items():
            planner = make_planner(kind, cfg, device=str(device))
            planner.plan(fn)  # warm-up
            times = []
            for r in range(args.repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                planner.plan(fn, generator=planner.make_generator(r))
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            best = min(times)
            print(
                f"  {name:20s} {best:8.3f} s/plan  {best / executed:8.4f} s per executed env step"
            )


if __name__ == "__main__":
    main()
