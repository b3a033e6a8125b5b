"""``vworld demo``: the whole pipeline on one machine, resumable stage by stage.

1. collect robot logs in a MuJoCo env (LeRobot v3.0 dataset),
2. pretrain the tiny video encoder with V-JEPA on those videos (no actions, no labels),
3. train the action-conditioned predictor on the logs over the frozen encoder,
4. plan toward fresh goal images with CEM in latent space, beside random actions and a
   planner that uses the true simulator (headroom),
then print a table and write ``report.md``. A stage whose output is complete in ``out_dir`` is
reused; an interrupted training stage resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from vworld.config import load_config

__all__ = ["DemoConfig", "demo"]

log = logging.getLogger("vworld.demo")


@dataclass
class DemoConfig:
    out_dir: str = "runs/demo"
    env: str = "vworld/Reach-v0"
    quick: bool = False  # every stage at toy size (about a minute)
    seed: int = 0
    device: str = "auto"
    episodes: int = 200  # collected episodes
    episode_steps: int = 100
    policy: str = "smooth"
    pretrain_steps: int = 300
    ac_steps: int = 3000
    plan_episodes: int = 50
    cem_iterations: int = 10  # the common protocol uses 30; 10 keeps the demo near 20 minutes
    workers: int = 2


def _quick(cfg: DemoConfig) -> DemoConfig:
    cfg.episodes, cfg.episode_steps = 12, 40
    cfg.pretrain_steps, cfg.ac_steps, cfg.plan_episodes = 6, 40, 2
    return cfg


class _Stages:
    def __init__(self, out: Path):
        self.path = out / "timings.json"
        self.times: dict[str, float] = (
            json.loads(self.path.read_text()) if self.path.exists() else {}
        )

    def run(self, name: str, done_marker: Path, fn) -> None:
        if done_marker.exists():
            log.info("stage %s: reusing %s", name, done_marker.parent)
            return
        log.info("stage %s ...", name)
        t0 = time.perf_counter()
        fn()
        self.times[name] = time.perf_counter() - t0
        self.path.write_text(json.dumps(self.times, indent=2))


def demo(cfg: DemoConfig) -> dict:
    """Run (or resume) the demo; returns the summary table as a dict."""
    from vworld.data.collect import CollectConfig, collect
    from vworld.eval.harness import PlanConfig, run_planning
    from vworld.train.pretrain import PretrainConfig, pretrain
    from vworld.train.train_ac import TrainACConfig, train_ac

    if cfg.quick:
        cfg = _quick(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages(out)
    data, enc, wm = out / "data", out / "encoder", out / "world_model"

    collect_cfg = load_config(
        CollectConfig,
        overrides=[
            f"env={cfg.env}",
            f"episodes={cfg.episodes}",
            f"steps={cfg.episode_steps}",
            f"policy={cfg.policy}",
            f"workers={cfg.workers}",
            f"seed={cfg.seed}",
            f"out_dir={data}",
            "overwrite=true",
        ],
    )
    stages.run("collect", data / "meta" / "info.json", lambda: collect(collect_cfg))

    pre_over = [
        f"data.path={data / 'videos'}",
        f"out_dir={enc}",
        f"seed={cfg.seed}",
        f"device={cfg.device}",
        f"train.steps={cfg.pretrain_steps}",
    ]
    if cfg.quick:
        pre_over += ["train.log_every=2", "optim.warmup_steps=2", "data.num_workers=0"]
    pre_cfg = load_config(PretrainConfig, "configs/pretrain/tiny-64px-8f.yaml", pre_over)
    stages.run("pretrain", enc / "encoder.safetensors", lambda: pretrain(pre_cfg))

    ac_over = [
        f"encoder={enc}",
        f"data.path={data}",
        f"out_dir={wm}",
        f"seed={cfg.seed}",
        f"device={cfg.device}",
        f"train.steps={cfg.ac_steps}",
    ]
    if cfg.quick:
        ac_over += ["train.log_every=10", "train.val_every=20", "optim.warmup_steps=5"]
    ac_cfg = load_config(TrainACConfig, "configs/ac/tiny-reach.yaml", ac_over)
    stages.run("train-ac", wm / "world_model.json", lambda: train_ac(ac_cfg))

    results = {}
    for name in ("cem", "random", "oracle"):
        plan_over = [
            f"env={cfg.env}",
            f"world_model={wm}",
            f"planner={name}",
            f"episodes={cfg.plan_episodes}",
            f"seed={cfg.seed + 1000}",
            f"out_dir={out / f'plan_{name}'}",
            f"device={cfg.device}",
            f"action_block={ac_cfg.data.frame_stride}",
            f"cem.iterations={cfg.cem_iterations}",
        ]
        if cfg.quick:
            plan_over += [
                "cem.num_samples=32",
                "cem.num_elites=4",
                "cem.iterations=2",
                "oracle.num_samples=16",
                "oracle.num_elites=4",
                "oracle.iterations=2",
                "max_steps=10",
                "num_video_episodes=1",
            ]
        recipe = (
            "configs/plan/oracle-reach.yaml" if name == "oracle" else "configs/plan/cem-reach.yaml"
        )
        plan_cfg = load_config(PlanConfig, recipe, plan_over)
        res_path = out / f"plan_{name}" / "results.json"
        stages.run(f"plan-{name}", res_path, lambda c=plan_cfg: run_planning(c))
        results[name] = json.loads(res_path.read_text())

    summary = _summarize(cfg, results, stages.times)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _write_report(out, summary)
    print(_table(summary))
    return summary


def _summarize(cfg: DemoConfig, results: dict, times: dict) -> dict:
    rows = {}
    for name, r in results.items():
        rows[name] = {
            "success_rate": r["success_rate"],
            "ci95": r["success_rate_ci95"],
            "episodes": r["num_episodes"],
            "plan_s_per_step": r["plan_seconds_per_step"],
        }
        if "goal_state_error_median" in r:
            rows[name]["goal_state_error_median"] = r["goal_state_error_median"]
    return {"env": cfg.env, "quick": cfg.quick, "planners": rows, "stage_seconds": times}


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "-"


def _table(summary: dict) -> str:
    lines = [f"vworld demo on {summary['env']}" + (" (quick)" if summary["quick"] else "")]
    lines.append(f"{'planner':<22}{'success':>9}{'95% CI':>15}{'plan s/step':>13}")
    labels = {"cem": "world model + CEM", "random": "random actions", "oracle": "simulator oracle"}
    for name, row in summary["planners"].items():
        sps = row["plan_s_per_step"]
        lines.append(
            f"{labels.get(name, name):<22}{row['success_rate']:>9.2f}{_fmt_ci(row['ci95']):>15}"
            f"{(f'{sps:.3f}' if sps is not None else '-'):>13}"
        )
    for name, row in summary["planners"].items():
        if "goal_state_error_median" in row:
            errs = ", ".join(f"s{d} {v:.3f}" for d, v in row["goal_state_error_median"].items())
            lines.append(
                f"{labels.get(name, name)}: goal state read from the goal image, "
                f"median error {errs}"
            )
    lines.append(
        "stage times: " + ", ".join(f"{k} {v:.0f}s" for k, v in summary["stage_seconds"].items())
    )
    return "\n".join(lines)


def _write_report(out: Path, summary: dict) -> None:
    parts = ["# vworld demo report", "", "```", _table(summary), "```", ""]
    for name in summary["planners"]:
        d = out / f"plan_{name}"
        for f in sorted(d.glob("*.png")) + sorted(d.glob("*.mp4")):
            parts.append(f"- {name}: [{f.name}]({f.relative_to(out)})")
    (out / "report.md").write_text("\n".join(parts) + "\n")
