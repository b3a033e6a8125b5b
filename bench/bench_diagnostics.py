"""Can these world models plan? Action sensitivity and ranking quality, side by side.

For each world model: 8 start states of the common protocol (goal = 25 random env steps
ahead), 64 random candidate action sequences each, rolled out in the model and executed in the
simulator (which only grades). Prints, per model:

- ``sens``: spread of the predicted final latents across candidates over the true spread
  (0: the model ignores the action);
- ``rank``: Spearman correlation of the planner's latent cost with the true task distance
  after executing each candidate (1: CEM ranks candidates as the simulator would);
- ``latent rank``: the same for the true latents' cost (how well the latent space measures
  distance to the goal image, whatever the predictor);
- ``latent err``: mean squared error of the predicted final latents;
- with ``--goal-dataset``, the exploitation check: the model's cost of the recorded actions
  from start to goal (``rec cost``) and of CEM's plan (``plan cost``, CEM 300/30/30), the
  task distance each ends at when executed (``rec dist``, ``plan dist``), and ``exploited``,
  the fraction of starts where the plan costs less in the model but ends farther;
- with ``--goal-dataset``, a second line per model: the fraction of starts where each plan,
  executed once open loop, reaches the goal at some env step (``rec``, ``plan``), and with
  ``--simulator-cem`` the same for CEM planning with the simulator as the world model:
  ``sim latent`` (the encoder's latents of the simulated frames under the same latent cost:
  the latent space's ceiling, whatever the predictor) and ``sim state`` (the env's task
  distance, a shortcut: the optimiser's ceiling), each with its mean final distance; and the
  predictor's error along the recorded actions and along CEM's plan (``prediction error``: root
  mean square of the predicted latent against the encoder's latent of the executed frame, per
  model step).

    python bench/bench_diagnostics.py --env vworld/Reach-v0 runs/wm_a runs/wm_b
    python bench/bench_diagnostics.py --env swm/PushT-v1 --goal-dataset data/swm-pusht-heldout \
        runs/wm-pusht  # the swm extra; starts and goals from held-out recorded episodes
    python bench/bench_diagnostics.py ... runs/wm-a runs/wm-a,runs/wm-b  # one model, an ensemble
    python bench/bench_diagnostics.py --env swm/PushT-v1 --goal-dataset data/swm-pusht-heldout \
        --block-actions each --init-std 0.5 --cost-on all --simulator-cem 300,30,10 runs/wm
"""

from __future__ import annotations

import argparse
import os

import torch

os.environ.setdefault("MUJOCO_GL", "egl")


def main() -> None:
    import envs
    from planners import CEMConfig
    from vworld.eval.costs import CostConfig
    from vworld.eval.diagnostics import DiagnosticsConfig, planning_diagnostics
    from vworld.world_model import load_world_models

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("world_models", nargs="+", help="folders; a,b,c: one ensemble of them")
    ap.add_argument("--env", default="vworld/Reach-v0")
    ap.add_argument("--render-size", type=int, default=64)
    ap.add_argument("--goal-dataset", default="", help="held-out episodes (swm's protocol)")
    ap.add_argument("--starts", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0, help="the first start (episode seed)")
    ap.add_argument("--candidates", type=int, default=64)
    ap.add_argument("--cost-type", default="l2", choices=["l1", "l2"])
    ap.add_argument(
        "--block-actions",
        default="held",
        choices=["held", "each"],
        help="candidates hold one action per model step, or take one per env step",
    )
    ap.add_argument("--cost-on", default="last", choices=["last", "all"])
    ap.add_argument("--init-std", type=float, default=1.0, help="CEM's starting std (check)")
    ap.add_argument(
        "--simulator-cem",
        default="",
        help="samples,elites,iterations: also plan with the simulator as the world model",
    )
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="a line per start as it ends")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    env = envs.make(args.env, render_size=args.render_size)
    cfg = DiagnosticsConfig(
        starts=args.starts,
        seed=args.seed,
        num_candidates=args.candidates,
        env=args.env,
        goal_dataset=args.goal_dataset,
        block_actions=args.block_actions,
        cem=CEMConfig(init_std=args.init_std),
        simulator_cem=_simulator_cem(args.simulator_cem, args.init_std),
    )
    cost = CostConfig(cost_type=args.cost_type, cost_on=args.cost_on, latent_only=True)
    extra = ("rec cost", "plan cost", "rec dist", "plan dist", "exploited")
    head = f"{'world model':40s} {'sens':>6s} {'rank':>6s} {'latent rank':>12s} {'latent err':>11s}"
    print(head + ("".join(f" {k:>10s}" for k in extra) if args.goal_dataset else ""))
    for path in args.world_models:
        wm = load_world_models(path)  # folders joined by commas: an ensemble
        cfg.action_block = wm.frame_stride
        d = planning_diagnostics(env, wm, cost, cfg, log=_progress if args.verbose else None)
        row = (
            f"{path:40s} {d['action_sensitivity']:6.3f} {d['rank_corr']:6.3f} "
            f"{d['latent_rank_corr']:12.3f} {d['latent_error']:11.4f}"
        )
        keys = ("recorded_cost", "planned_cost", "recorded_distance", "planned_distance")
        if args.goal_dataset:
            row += "".join(f" {d[k]:10.3f}" for k in (*keys, "exploited"))
        print(row, flush=True)
        if args.goal_dataset:
            line = (
                f"{'':40s} reached: rec {d['recorded_success']:.2f} plan {d['planned_success']:.2f}"
            )
            for kind in ("latent", "state") if cfg.simulator_cem else ():
                line += (
                    f" sim {kind} {d[f'sim_{kind}_success']:.2f} ({d[f'sim_{kind}_distance']:.1f})"
                )
            line += (
                f"; prediction error: rec {d['recorded_error']:.3f} plan {d['planned_error']:.3f}"
            )
            print(line, flush=True)


def _progress(line: str) -> None:
    print(f"  {line}", flush=True)


def _simulator_cem(spec: str, init_std: float):
    """``"samples,elites,iterations"`` -> a CEMConfig (empty: None)."""
    from planners import CEMConfig

    if not spec:
        return None
    try:
        n, e, it = (int(x) for x in spec.split(","))
    except ValueError:
        raise SystemExit(
            f"--simulator-cem: expected samples,elites,iterations, got {spec!r}"
        ) from None
    return CEMConfig(num_samples=n, num_elites=e, iterations=it, init_std=init_std)


if __name__ == "__main__":
    main()
