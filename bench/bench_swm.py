"""stable-worldmodel's envs through vworld: env speed and baselines of swm's protocol.

Needs the ``swm`` extra (TwoRoom and PushT, the default ``--envs``); ``swm/OGBCube-v0`` needs the
``swm-dmc`` environment. Per env: milliseconds per step of swm's env alone, with its 224-pixel
render, and through ``envs.swm`` (render resized to ``--render-size``); then, on a held-out
dataset collected here with swm's expert (``vworld collect ... policy=expert``), the success of
swm's protocol (goal 25 steps after the start, 50-step budget, success = the env's
termination) for uniformly random actions (held 5 steps, receding horizon 5) and for swm's
expert policy (noise-free, one action a step, as a planner stand-in; PushT's ``WeakPolicy``
is blind to the goal; OGBench's expert, its Markov oracle, reads the env's target, which is the
goal's cube pose), each run in vworld's harness and in swm's ``World.evaluate`` (the cube in
vworld's harness only). ``--heldout
ENV=DIR`` takes a held-out dataset collected before instead of collecting one.

    OMP_NUM_THREADS=1 MUJOCO_GL=egl python bench/bench_swm.py --episodes 50
    MUJOCO_GL=egl python bench/bench_swm.py --envs swm/OGBCube-v0 \
        --heldout swm/OGBCube-v0=data/swm-cube-heldout
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym
import numpy as np

import envs
from envs.swm import import_swm
from envs.swm_expert import SwmExpert
from vworld.data.collect import CollectConfig, collect
from vworld.eval.goals import make_goal
from vworld.eval.harness import PlanConfig, make_env, run_planning
from vworld.eval.mpc import run_episode
from vworld.eval.swm_policy import evaluate_in_world

ENV_IDS = ("swm/TwoRoom-v1", "swm/PushT-v1")


def step_ms(env_id: str, render_size: int, steps: int) -> dict[str, float]:
    """ms per step: swm alone, swm + its 224-pixel render, vworld's adapter (step + frame)."""
    raw = gym.make(env_id, disable_env_checker=True)
    raw.reset(seed=0)
    shape = (steps, *raw.action_space.shape)
    actions = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    out = {}
    t = time.perf_counter()
    for a in actions:
        raw.step(a)
    out["step"] = (time.perf_counter() - t) / steps * 1e3
    t = time.perf_counter()
    for a in actions:
        raw.step(a)
        raw.render()
    out["step_render224"] = (time.perf_counter() - t) / steps * 1e3
    raw.close()
    env = envs.make(env_id, render_size=render_size)
    env.reset(seed=0)
    t = time.perf_counter()
    for a in actions:
        env.step(a)
    out["adapter"] = (time.perf_counter() - t) / steps * 1e3
    env.close()
    return out


class ExpertController:
    """swm's expert as a vworld controller: one action per call, read from the env's state."""

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped
        self.expert: SwmExpert | None = None

    def reset(self, goal_obs: dict, seed: int | None = None) -> None:
        noise = 0.0 if self.env.task.expert_noise_arg else None  # noise-free where it has noise
        self.expert = SwmExpert(self.env, seed=seed or 0, noise=noise)

    def act(self, obs: dict) -> np.ndarray:
        return self.expert.act()[None]


def expert_in_vworld(cfg: PlanConfig) -> list[bool]:
    env = make_env(cfg)
    out = []
    try:
        for i in range(cfg.episodes):
            obs, info, goal_obs, _ = make_goal(env, cfg.seed + i, cfg)
            ctrl = ExpertController(env)
            ctrl.reset(goal_obs, seed=cfg.seed + i)
            out.append(run_episode(env, ctrl, obs, info, cfg.max_steps, 1).success)
    finally:
        env.close()
    return out


def swm_expert(env_id: str, seed: int) -> object:
    swm = import_swm()
    if "TwoRoom" in env_id:
        return swm.envs.two_room.expert_policy.ExpertPolicy(action_noise=0.0, seed=seed)
    if "OGBCube" in env_id:
        return swm.envs.ogbench.expert_policy.ExpertPolicy(action_noise=0.0, seed=seed)
    return swm.envs.pusht.expert_policy.WeakPolicy(seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=50, help="protocol episodes")
    parser.add_argument("--envs", nargs="+", default=list(ENV_IDS))
    parser.add_argument(
        "--heldout", action="append", default=[], metavar="ENV=DIR", help="existing held-out data"
    )
    parser.add_argument("--heldout-episodes", type=int, default=60)
    parser.add_argument("--heldout-steps", type=int, default=100)
    parser.add_argument("--render-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=500, help="steps timed per env")
    parser.add_argument("--out", default=None, help="folder for the data (default: a temp dir)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench_swm-"))
    if bad := [h for h in args.heldout if "=" not in h]:
        parser.error(f"--heldout takes ENV=DIR, not {bad}")
    heldout = dict(h.split("=", 1) for h in args.heldout)
    if unknown := set(heldout) - set(args.envs):
        parser.error(f"--heldout for envs not in --envs: {sorted(unknown)}")
    import_swm()
    for env_id in args.envs:
        ms = step_ms(env_id, args.render_size, args.steps)
        print(
            f"{env_id:16s} ms/step: swm step {ms['step']:.3f}, + 224 px render "
            f"{ms['step_render224']:.3f}, vworld adapter ({args.render_size} px) {ms['adapter']:.3f}"
        )
    for env_id in args.envs:
        name = env_id.split("/")[1]
        t = time.perf_counter()
        data = (
            Path(heldout[env_id])
            if env_id in heldout
            else collect(
                CollectConfig(
                    env=env_id,
                    episodes=args.heldout_episodes,
                    steps=args.heldout_steps,
                    policy="expert",
                    seed=1000,
                    workers=0,
                    out_dir=str(out / f"{name}-heldout"),
                    overwrite=True,
                )
            )
        )
        t_collect = time.perf_counter() - t
        cfg = PlanConfig(
            env=env_id,
            episodes=args.episodes,
            render_size=args.render_size,
            goal_source="dataset",
            goal_dataset=str(data),
            planner="random",
            receding_horizon=5,
            num_video_episodes=0,
            out_dir=str(out / f"{name}-random"),
        )
        t = time.perf_counter()
        res = run_planning(cfg)
        rand_v = [e["success"] for e in res["episodes"]]
        trivial = res["num_start_success"]
        # World.evaluate holds one env per episode: 50 OGBench cubes (MuJoCo renderers) exceed
        # 24 GiB (and OGBench's expert reads privileged keys, the target's pose, that World's
        # infos lack), so the cube runs in vworld's harness alone
        rand_w = exp_w = None
        if "OGBCube" not in env_id:
            rand_w = [bool(s) for s in evaluate_in_world(cfg)["episode_successes"]]
            exp_w = evaluate_in_world(cfg, policy=swm_expert(env_id, cfg.seed))
            exp_w = [bool(s) for s in exp_w["episode_successes"]]
        exp_v = expert_in_vworld(cfg)
        n = cfg.episodes
        print(
            f"{env_id:16s} held-out "
            + heldout.get(env_id, f"{args.heldout_episodes}x{args.heldout_steps} collected")
            + f" ({t_collect:.0f} s)"
            + f"; {n} episodes, {trivial} start within the success test; "
            f"protocol runs {time.perf_counter() - t:.0f} s"
        )
        print(
            f"  random  vworld {sum(rand_v)}/{n}  "
            + (
                f"World.evaluate {sum(rand_w)}/{n}  same episodes: {rand_v == rand_w}"
                if rand_w is not None
                else ""
            )
        )
        print(
            f"  expert  vworld {sum(exp_v)}/{n}  "
            + (
                f"World.evaluate {sum(exp_w)}/{n}  same episodes: {exp_v == exp_w}"
                if exp_w is not None
                else ""
            )
        )


if __name__ == "__main__":
    main()
