"""``vworld demo``: an env's whole pipeline on one machine, resumable stage by stage.

1. collect robot logs in a MuJoCo env (LeRobot v3.0 dataset),
2. pretrain the tiny video encoder with V-JEPA on those videos (no actions, no labels),
3. train the world model on the logs: the compact-latent model the JEPA planner uses, and
   the proprioceptive model with a state probe that the state-probe planner uses,
4. plan toward fresh goal images with CEM: with the latent cost alone (predicted latents
   against the goal image's latent), beside the state-probe planner (a shortcut), random
   actions and a planner that uses the true simulator (headroom),
then print a table and write ``report.md``. ``env=`` picks the pipeline (``PIPELINES``). A
stage whose output is complete in ``out_dir`` is reused; an interrupted training stage
resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from vworld.config import load_config

__all__ = ["DemoConfig", "demo"]

log = logging.getLogger("vworld.demo")


# Each env's whole pipeline: how its robot log is collected and which recipes train and plan.
# ``latent`` is the world model the JEPA planner uses (its cost: predicted latents against the
# goal image's latent, nothing else); ``probe`` is the state-probe planner shown beside it
# (a shortcut: it plans the states a probe reads from the goal image).
PIPELINES: dict[str, dict] = {
    "vworld/Reach-v0": {
        "collect": ["episodes=600", "steps=100", "policy=smooth", "pix_fmt=yuv444p", "crf=0"],
        "latent": "configs/ac/tiny-reach-latent.yaml",
        "probe": "configs/ac/tiny-reach.yaml",
        "plan": "configs/plan/cem-reach-latent.yaml",
        "plan_probe": "configs/plan/cem-reach.yaml",
        "oracle": "configs/plan/oracle-reach.yaml",
    },
    "vworld/PointMaze-v0": {
        "collect": [
            "episodes=500",
            "steps=100",
            "policy=scripted,smooth",
            "pix_fmt=yuv444p",
            "crf=0",
        ],
        "latent": "configs/ac/tiny-pointmaze-latent.yaml",
        "probe": "configs/ac/tiny-pointmaze.yaml",
        "plan": "configs/plan/cem-pointmaze-latent.yaml",
        "plan_probe": "configs/plan/cem-pointmaze.yaml",
        "oracle": "configs/plan/oracle-pointmaze.yaml",
    },
    "vworld/Push-v0": {
        "collect": [
            "episodes=500",
            "steps=100",
            "policy=scripted",
            "pix_fmt=yuv444p",
            "crf=0",
        ],
        "latent": "configs/ac/tiny-push-latent.yaml",
        "probe": "configs/ac/tiny-push.yaml",
        "plan": "configs/plan/cem-push-latent.yaml",
        "plan_probe": "configs/plan/cem-push.yaml",
        "oracle": "configs/plan/oracle-push.yaml",
    },
}
PLANNERS = ("latent", "probe", "random", "oracle")


@dataclass
class DemoConfig:
    out_dir: str = "runs/demo"
    env: str = "vworld/Reach-v0"  # a key of PIPELINES
    quick: bool = False  # every stage at toy size (about a minute)
    seed: int = 0
    device: str = "auto"
    episodes: int | None = None  # collected episodes (default: the env's pipeline)
    episode_steps: int | None = None
    pretrain_steps: int = 300
    ac_steps: int | None = None  # world-model training steps (default: the recipes')
    plan_episodes: int = 50
    cem_iterations: int | None = None  # default: the plan recipes' (the protocol's 30)
    # Which planners to run: the latent planner, the state-probe planner (a shortcut),
    # random actions and the simulator oracle (headroom).
    planners: list[str] = field(default_factory=lambda: list(PLANNERS))
    workers: int = 2

    def validate(self) -> None:
        if self.env not in PIPELINES:
            raise ValueError(f"env: {self.env!r}, expected one of {sorted(PIPELINES)}")
        bad = [p for p in self.planners if p not in PLANNERS]
        if bad or not self.planners:
            raise ValueError(f"planners: {self.planners}, expected a list from {PLANNERS}")


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
    cfg.validate()
    pipe = PIPELINES[cfg.env]
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages(out)
    data, enc = out / "data", out / "encoder"

    collect_over = [*pipe["collect"], f"env={cfg.env}", f"workers={cfg.workers}"]
    collect_over += [f"seed={cfg.seed}", f"out_dir={data}", "overwrite=true"]
    if cfg.episodes is not None:
        collect_over.append(f"episodes={cfg.episodes}")
    if cfg.episode_steps is not None:
        collect_over.append(f"steps={cfg.episode_steps}")
    collect_cfg = load_config(CollectConfig, overrides=collect_over)
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

    # The world models: the latent planner's, and the state-probe planner's when it runs.
    models = {"latent": "world_model"} if "latent" in cfg.planners else {}
    if "probe" in cfg.planners:
        models["probe"] = "world_model_probe"
    ac_cfgs = {}
    for kind, folder in models.items():
        ac_over = [
            f"encoder={enc}",
            f"data.path={data}",
            f"out_dir={out / folder}",
            f"data.cache_dir={out / 'cache'}",
            f"seed={cfg.seed}",
            f"device={cfg.device}",
        ]
        if cfg.ac_steps is not None:
            ac_over.append(f"train.steps={cfg.ac_steps}")
        if cfg.quick:
            ac_over += ["train.log_every=10", "train.val_every=20", "optim.warmup_steps=5"]
        ac_cfg = load_config(TrainACConfig, pipe[kind], ac_over)
        ac_cfgs[kind] = ac_cfg
        name = "train-ac" if kind == "latent" else "train-ac-probe"
        stages.run(name, out / folder / "world_model.json", lambda c=ac_cfg: train_ac(c))

    results = {}
    recipes = {"latent": "plan", "probe": "plan_probe", "random": "plan", "oracle": "oracle"}
    for name in cfg.planners:
        wm_kind = name if name in models else next(iter(models), None)
        plan_over = [
            f"env={cfg.env}",
            f"episodes={cfg.plan_episodes}",
            f"seed={cfg.seed + 1000}",
            f"out_dir={out / f'plan_{name}'}",
            f"device={cfg.device}",
        ]
        if name in ("random", "oracle"):
            plan_over.append(f"planner={name}")
        if wm_kind is not None:
            plan_over.append(f"world_model={out / models[wm_kind]}")
            plan_over.append(f"action_block={ac_cfgs[wm_kind].data.frame_stride}")
        if cfg.cem_iterations is not None:
            plan_over.append(f"cem.iterations={cfg.cem_iterations}")
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
        plan_cfg = load_config(PlanConfig, pipe[recipes[name]], plan_over)
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
            "plan_s_per_step": r["plan_seconds_per_step"] if name != "random" else None,
            "cost": r.get("cost"),
        }
        if "goal_state_error_median" in r:
            rows[name]["goal_state_error_median"] = r["goal_state_error_median"]
    return {"env": cfg.env, "quick": cfg.quick, "planners": rows, "stage_seconds": times}


LABELS = {
    "latent": "world model, latent cost only (CEM)",
    "probe": "state-probe planner (shortcut: probe)",
    "random": "random actions",
    "oracle": "simulator oracle (shortcut: true dynamics)",
}


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "-"


def _table(summary: dict) -> str:
    lines = [f"vworld demo on {summary['env']}" + (" (quick)" if summary["quick"] else "")]
    lines.append(f"{'planner':<44}{'success':>9}{'95% CI':>15}{'plan s/step':>13}")
    labels = LABELS
    for name, row in summary["planners"].items():
        sps = row["plan_s_per_step"]
        lines.append(
            f"{labels.get(name, name):<44}{row['success_rate']:>9.2f}{_fmt_ci(row['ci95']):>15}"
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
