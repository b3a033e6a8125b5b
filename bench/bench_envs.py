"""Steps per second of the vworld MuJoCo envs with pixel observations (and of the adapter).

Run: ``python bench/bench_envs.py [--render-size 64] [--steps 500]``. Prints, per env, the
physics-only rate, the render-only time per frame and env steps/s with rendering.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported

import gymnasium as gym
import mujoco
import numpy as np

import envs


def bench(env: gym.Env, steps: int) -> dict[str, float]:
    base = env.unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(steps, *env.action_space.shape)).astype(np.float32)
    for a in actions[:20]:  # warm up the GL context
        env.step(a)
    t = time.perf_counter()
    for a in actions:
        env.step(a)
    with_render = steps / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(steps):
        env.render()
    render_ms = (time.perf_counter() - t) / steps * 1e3
    model, data = base.model, base.data
    t = time.perf_counter()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    physics = steps / (time.perf_counter() - t)
    return {"steps_per_s": with_render, "render_ms": render_ms, "mj_step_per_s": physics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--render-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print(f"render_size={args.render_size} steps={args.steps}")
    for env_id in envs.ENV_IDS:
        env = gym.make(env_id, render_size=args.render_size)
        r = bench(env, args.steps)
        fs = env.unwrapped.frame_skip
        print(
            f"{env_id:22s} env steps/s with render {r['steps_per_s']:7.0f}  "
            f"render {r['render_ms']:5.2f} ms  mj_step/s {r['mj_step_per_s']:8.0f} "
            f"(frame_skip {fs})"
        )
        env.close()
    for env_id in ("Reacher-v5", "Pusher-v5"):
        try:
            env = envs.GoalImageAdapter(gym.make(env_id), render_size=args.render_size)
        except (ImportError, gym.error.Error) as err:
            print(f"{env_id}: unavailable ({err})")
            continue
        r = bench(env, min(args.steps, 200))
        print(
            f"{env_id + ' (adapter)':22s} env steps/s with render {r['steps_per_s']:7.0f}  "
            f"render {r['render_ms']:5.2f} ms"
        )
        env.close()


if __name__ == "__main__":
    main()
