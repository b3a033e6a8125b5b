"""Collect robot logs from vworld's MuJoCo envs into a LeRobot v3.0 dataset.

The data-collection recipe of V-JEPA 2-AC (Assran et al., 2025) in simulation: roll out a
(random, smooth-noise or scripted) policy for many short episodes, recording at every step
the camera frame, the proprioceptive state, the full simulator state and the action taken.

Worker processes each run whole episodes; episode ``e`` is seeded by ``(seed, e)`` alone,
and the parent writes episodes in index order, so a dataset is the same for a seed whatever
the number of workers. Frames are encoded in the parent while the workers simulate. The
dataset is written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING
from tqdm.auto import tqdm

from vworld.data.record import DatasetRecorder

__all__ = ["CollectConfig", "collect", "episode_rng", "make_env", "run_episode"]


@dataclass
class CollectConfig:
    """What to collect and where.

    Args:
        env: Gymnasium id of the env (``import envs`` registers ``vworld/*``; ``swm/*`` are
            stable-worldmodel's, with the ``swm`` extra).
        episodes: number of episodes.
        steps: frames (and actions) per episode.
        policy: ``"random"``, ``"smooth"``, ``"scripted"`` or, on ``swm/...`` envs,
            ``"expert"`` (swm's own expert; ``envs.policies.make_policy``) or ``"smooth-near"``
            (smooth noise kept near the task's object: PushT's block),
            or several, comma-separated, taken in turn by episode (``"scripted,smooth"``:
            even episodes scripted, odd ones smooth noise; goal-directed data crosses the
            PointMaze door, noise presses the ball against the walls where random goals lie).
        workers: worker processes; 0 runs the episodes in this process.
        seed: base seed; episode ``e`` uses ``SeedSequence([seed, e])``.
        out_dir: the dataset folder to create.
        render_size: frame height and width in pixels.
        frame_skip: physics steps per env step; the env's default when None.
        codec: ``"h264"`` or ``"av1"``.
        crf: the encoder's constant rate factor (lower: larger files, less compression noise;
            simulated frames are small, so a low value costs little).
        pix_fmt: ``"yuv420p"`` or ``"yuv444p"`` (H.264 only; with ``crf=0``, lossless up to
            RGB/YUV rounding: use it when small objects' exact pixels matter, e.g. a state
            probe that must read clean goal images).
        fps: recorded frame rate; from the env's control period when None.
        camera: camera name in the dataset (``observation.images.<camera>``).
        overwrite: replace an existing ``out_dir``.
        start_method: multiprocessing start method. ``"forkserver"`` (default) forks workers
            from a clean server that has imported this module once, so they start fast and
            inherit no GL context or encoder from the caller; ``"fork"`` hangs the workers'
            renderer if the caller has rendered before; ``"spawn"`` re-imports vworld (and
            torch) in every worker.
    """

    env: str = "vworld/Reach-v0"
    episodes: int = 200
    steps: int = 100
    policy: str = "smooth"
    workers: int = 2
    seed: int = 0
    out_dir: str = MISSING
    render_size: int = 64
    frame_skip: int | None = None
    codec: str = "h264"
    crf: int = 18
    pix_fmt: str = "yuv420p"
    fps: int | None = None
    camera: str = "top"
    overwrite: bool = False
    start_method: str = "forkserver"


def make_env(env_id: str, render_size: int = 64, frame_skip: int | None = None, steps: int = 200):
    """The env as collection uses it (no env checker; time limit = ``steps``).

    ``swm/...`` ids (stable-worldmodel, the ``swm`` extra) are made by ``envs.make``, with
    the collection arguments of ``envs.swm_tasks.COLLECT_KWARGS`` (OGBCube's expert goes on
    past a placed cube).
    """
    import gymnasium as gym

    if env_id.startswith("swm/"):
        import envs
        from envs.swm_tasks import COLLECT_KWARGS

        return envs.make(
            env_id,
            render_size=render_size,
            frame_skip=frame_skip,
            max_episode_steps=steps,
            **COLLECT_KWARGS.get(env_id, {}),
        )
    if env_id.startswith("vworld/"):
        import envs  # registers the vworld envs

    kw: dict[str, Any] = {"render_size": render_size}
    if frame_skip is not None:
        kw["frame_skip"] = frame_skip
    return gym.make(env_id, max_episode_steps=steps, disable_env_checker=True, **kw)


def env_fps(env) -> int:
    """Frames per second of an env step: ``1 / (timestep * frame_skip)`` for MuJoCo envs."""
    base = env.unwrapped
    if hasattr(base, "model") and hasattr(base, "frame_skip"):
        return round(1.0 / (base.model.opt.timestep * base.frame_skip))
    return int(env.metadata.get("render_fps", 20))


def episode_rng(seed: int, episode: int) -> np.random.Generator:
    """The generator of episode ``episode``: depends on ``(seed, episode)`` only."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(episode)]))


def run_episode(env, policy, seed: int, episode: int, steps: int) -> dict[str, Any]:
    """Roll out one episode; ``actions[t]`` is taken at frame ``t``."""
    rng = episode_rng(seed, episode)
    obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
    policy.reset(rng, env)
    base = env.unwrapped
    frames, states, sims, actions = [], [], [], []
    for _ in range(steps):
        frames.append(obs["pixels"])
        states.append(obs["state"])
        sims.append(base.get_state())
        a = np.asarray(policy(obs, env), dtype=np.float32)
        actions.append(a)
        obs, _, terminated, _, _ = env.step(a)
        if terminated:
            break
    return {
        "episode": episode,
        "frames": np.stack(frames),
        "actions": np.stack(actions),
        "states": np.stack(states).astype(np.float32),
        "sim_states": np.stack(sims).astype(np.float64),
    }


_WORKER: dict[str, Any] = {}


def _worker_init(cfg: dict) -> None:
    import torch

    from envs.policies import make_policy

    # Workers run side by side on the machine's cores: an env that renders with torch (swm's
    # TwoRoom) would otherwise start one thread per core in every worker.
    torch.set_num_threads(1)

    env = make_env(cfg["env"], cfg["render_size"], cfg["frame_skip"], cfg["steps"])
    policies = [make_policy(name, env) for name in policy_names(cfg["policy"])]
    _WORKER.update(cfg=cfg, env=env, policies=policies)


def policy_names(policy: str) -> list[str]:
    """The policies of a ``CollectConfig.policy`` string, in the order episodes take them."""
    names = [p.strip() for p in str(policy).split(",")]
    if not all(names):
        raise ValueError(f"CollectConfig.policy: {policy!r} has an empty policy name")
    return names


def _worker_episode(episode: int) -> dict[str, Any]:
    cfg, policies = _WORKER["cfg"], _WORKER["policies"]
    policy = policies[episode % len(policies)]
    return run_episode(_WORKER["env"], policy, cfg["seed"], episode, cfg["steps"])


def collect(cfg: CollectConfig) -> Path:
    """Collect ``cfg.episodes`` episodes into a LeRobot v3.0 dataset at ``cfg.out_dir``.

    Args:
        cfg: the collection config.
    Returns:
        The dataset folder.
    """
    if cfg.out_dir in (None, "", MISSING):
        raise ValueError("CollectConfig.out_dir: required (the dataset folder to create)")
    if cfg.episodes < 1 or cfg.steps < 1:
        raise ValueError(f"CollectConfig: episodes {cfg.episodes} and steps {cfg.steps}: >= 1")
    out = Path(cfg.out_dir)
    if out.exists() and not cfg.overwrite:  # before any worker starts
        raise FileExistsError(f"{out}: already exists (set overwrite=True)")
    d = asdict(cfg)
    rec: DatasetRecorder | None = None

    pool = None
    if cfg.workers > 0:
        ctx = mp.get_context(cfg.start_method)
        if cfg.start_method == "forkserver":
            ctx.set_forkserver_preload(["vworld.data.collect", "envs"])
        pool = ctx.Pool(cfg.workers, initializer=_worker_init, initargs=(d,))
    bar = tqdm(total=cfg.episodes, desc=f"collect {cfg.env}", unit="ep")
    try:
        probe = make_env(cfg.env, cfg.render_size, cfg.frame_skip, cfg.steps)
        from envs.policies import make_policy

        for name in policy_names(cfg.policy):  # unknown names fail here, not in a worker
            make_policy(name, probe)
        fps = cfg.fps or env_fps(probe)
        probe.close()
        codec = {"codec": cfg.codec, "pix_fmt": cfg.pix_fmt, "crf": cfg.crf}
        rec = DatasetRecorder(out, fps, cfg.env, codec, cfg.camera, overwrite=cfg.overwrite)
        task = f"{cfg.env}: reach the goal"
        if pool is None:
            _worker_init(d)
            results = (_worker_episode(e) for e in range(cfg.episodes))
        else:  # ordered: episode e is always written as episode e
            results = pool.imap(_worker_episode, range(cfg.episodes), chunksize=1)
        for r in results:
            rec.add(r["frames"], r["actions"], r["states"], r["sim_states"], task)
            bar.update(1)
        rec.finish(d, "collect_config.json")
    except BaseException:
        if rec is not None:
            rec.abort()
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        if _WORKER:
            _WORKER["env"].close()
            _WORKER.clear()
    return out
