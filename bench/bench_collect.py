"""Collection overhead: ``collect()`` against a bare ``env.step()`` (+ render) loop.

Both run the same env, policy, episodes and steps in this process, side by side. The bare
loop steps the env (each step renders the frame into the observation) and calls the policy;
``collect`` also records the simulator state, ships episodes between processes, encodes
the video and writes parquet and metadata. The issue's target: collection takes at most
1.5x the time of the bare loop (a ratio <= 1.5).

    python bench/bench_collect.py --episodes 20 --steps 100 --workers 1 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def bare_rate(env_id: str, episodes: int, steps: int, policy: str, render_size: int) -> float:
    from envs.policies import make_policy
    from vworld.data.collect import episode_rng, make_env

    env = make_env(env_id, render_size, None, steps)
    pol = make_policy(policy, env)
    n = 0
    t = time.perf_counter()
    for e in range(episodes):
        rng = episode_rng(0, e)
        obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
        pol.reset(rng, env)
        for _ in range(steps):
            obs, *_ = env.step(np.asarray(pol(obs, env), np.float32))
            n += 1
    dt = time.perf_counter() - t
    env.close()
    return n / dt


def collect_rate(env_id, episodes, steps, policy, render_size, workers, codec) -> float:
    from vworld.data.collect import CollectConfig, collect

    with tempfile.TemporaryDirectory() as d:
        cfg = CollectConfig(
            env=env_id,
            episodes=episodes,
            steps=steps,
            policy=policy,
            workers=workers,
            out_dir=os.path.join(d, "ds"),
            render_size=render_size,
            codec=codec,
        )
        t = time.perf_counter()
        collect(cfg)
        dt = time.perf_counter() - t
    return episodes * steps / dt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="vworld/Reach-v0")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--policy", default="smooth")
    p.add_argument("--render-size", type=int, default=64)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--codec", default="h264")
    a = p.parse_args()
    print(
        f"{a.env}, {a.episodes} episodes x {a.steps} steps, {a.render_size}px, {a.codec}, "
        f"{os.cpu_count()} CPUs"
    )
    bare = bare_rate(a.env, a.episodes, a.steps, a.policy, a.render_size)
    print(f"bare env.step()+render loop : {bare:8.1f} steps/s")
    for w in a.workers:
        rate = collect_rate(a.env, a.episodes, a.steps, a.policy, a.render_size, w, a.codec)
        print(
            f"collect(workers={w})          : {rate:8.1f} steps/s   "
            f"overhead {bare / rate:.2f}x (target <= 1.5x)"
        )


if __name__ == "__main__":
    main()
