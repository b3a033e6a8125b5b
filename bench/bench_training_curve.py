"""Success against training time: plan with the world model at each kept checkpoint of one run.

A ``vworld train-ac`` run with ``train.keep_every`` keeps ``checkpoints/step_N.pt``; each one's
predictor is put into the run's exported world model (same encoder, same normalisation) and
saved beside the others, then planned with for the same episodes. Prints, per checkpoint, the
training step, the training minutes to reach it (from the run's logged throughput), the
success rate with its 95% interval and the planning seconds per env step, and the resolved
cost, so a reader can check what the planner compared.

    python bench/bench_training_curve.py runs/demo/world_model \\
        --plan configs/plan/cem-reach-latent.yaml --env vworld/Reach-v0 --episodes 50

A kept checkpoint is taken mid-schedule, at that step's learning rate and not annealed, so
its success is below what a run trained to that step count would reach; to see what longer
training buys, compare runs with different ``train.steps``. Checkpoints of a run that
fine-tuned its encoder are refused (their encoder is not the exported one).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")


def training_minutes(run: Path, batch_size: int) -> dict[int, float]:
    """Cumulative training minutes at each logged step, from the logged windows per second."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    out, total, last = {}, 0.0, 0
    for r in rows:
        if "windows_per_s" not in r:
            continue
        total += (r["step"] - last) * batch_size / max(r["windows_per_s"], 1e-9)
        last = r["step"]
        out[last] = total / 60
    return out


def main() -> None:
    from vworld.config import load_config
    from vworld.eval.harness import PlanConfig, run_planning
    from vworld.train.checkpoint import load_checkpoint
    from vworld.world_model import load_world_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a train-ac output folder with kept checkpoints")
    ap.add_argument("--plan", required=True, help="plan recipe (configs/plan/...)")
    ap.add_argument("--env", default="vworld/Reach-v0")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=None, help="default: RUN/curve")
    args = ap.parse_args()

    train_cfg = (args.run / "config.yaml").read_text()
    if re.search(r"^\s*finetune_encoder:\s*true", train_cfg, re.M):
        raise SystemExit(f"{args.run}: the encoder was fine-tuned; its checkpoints are not curves")
    batch = int(re.search(r"^\s*batch_size:\s*(\d+)", train_cfg, re.M).group(1))
    minutes = training_minutes(args.run, batch)
    kept = sorted((args.run / "checkpoints").glob("step_*.pt"))
    if not kept:
        raise SystemExit(f"{args.run}/checkpoints: no step_*.pt (train with train.keep_every)")
    out = args.out or args.run / "curve"
    rows = []
    for ckpt in kept:
        step = int(re.search(r"step_(\d+)", ckpt.name).group(1))
        wm = load_world_model(args.run)
        wm.predictor.load_state_dict(load_checkpoint(ckpt)["predictor"])
        folder = wm.save(out / f"step_{step}")
        plan = load_config(
            PlanConfig,
            args.plan,
            [
                f"env={args.env}",
                f"world_model={folder}",
                f"episodes={args.episodes}",
                f"seed={args.seed}",
                f"out_dir={folder / 'plan'}",
                f"action_block={wm.frame_stride}",
                "num_video_episodes=0",
            ],
        )
        res = run_planning(plan)
        rows.append((step, minutes.get(step, float("nan")), res))
        lo, hi = res["success_rate_ci95"]
        print(
            f"step {step:>6}  train {minutes.get(step, float('nan')):6.1f} min  success "
            f"{res['num_success']}/{res['num_episodes']} [{lo:.2f}, {hi:.2f}]  "
            f"{res['plan_seconds_per_step']:.3f} s/step",
            flush=True,
        )
    print(f"\n{args.env}, plan recipe {args.plan}, cost {json.dumps(rows[-1][2]['cost'])}")
    print(f"{'step':>6} {'train min':>10} {'success':>9} {'95% CI':>14} {'s/step':>8}")
    for step, mins, res in rows:
        lo, hi = res["success_rate_ci95"]
        print(
            f"{step:>6} {mins:>10.1f} {res['success_rate']:>9.2f} {f'[{lo:.2f}, {hi:.2f}]':>14} "
            f"{res['plan_seconds_per_step']:>8.3f}"
        )


if __name__ == "__main__":
    main()
