"""Collection into LeRobot v3.0: recorded data reads back, deterministic across workers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vworld.data.collect import CollectConfig, collect, make_env, run_episode
from vworld.data.logs import open_robot_log

envs = pytest.importorskip("envs")


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    d = tmp_path_factory.mktemp("collect")
    cfg = CollectConfig(episodes=3, steps=10, workers=2, seed=3, out_dir=str(d / "w2"))
    return cfg, collect(cfg)


def test_collect_reads_back_what_was_recorded(collected):
    cfg, root = collected
    log = open_robot_log(root)
    assert log.num_episodes == 3 and log.episode_lengths == [10, 10, 10]
    assert log.fps == 20 and log.sim_state_dim > 0
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["robot_type"] == cfg.env
    assert not list(root.parent.glob(".w2.partial-*"))
    env = make_env(cfg.env, cfg.render_size, cfg.frame_skip, cfg.steps)
    policy = envs.make_policy(cfg.policy, env)
    try:
        for e in range(3):
            ref = run_episode(env, policy, cfg.seed, e, cfg.steps)
            ep = log.load_episode(e)
            np.testing.assert_array_equal(ep.actions, ref["actions"])
            np.testing.assert_array_equal(ep.states, ref["states"])
            np.testing.assert_array_equal(ep.sim_states, ref["sim_states"])
            assert np.abs(ep.frames.astype(float) - ref["frames"]).mean() < 3.0
    finally:
        env.close()


def test_same_dataset_for_any_worker_count(collected, tmp_path):
    _, root = collected
    cfg0 = CollectConfig(episodes=3, steps=10, workers=0, seed=3, out_dir=str(tmp_path / "w0"))
    a, b = open_robot_log(root), open_robot_log(collect(cfg0))
    for e in range(3):
        x, y = a.load_episode(e), b.load_episode(e)
        np.testing.assert_array_equal(x.actions, y.actions)
        np.testing.assert_array_equal(x.frames, y.frames)


def test_collect_refuses_existing_out_dir(collected):
    _, root = collected
    with pytest.raises(FileExistsError):
        collect(CollectConfig(episodes=1, steps=2, workers=0, out_dir=str(root)))
    with pytest.raises(ValueError, match="out_dir"):
        collect(CollectConfig(episodes=1, steps=2, workers=0))


def test_policies_taken_in_turn_by_episode(tmp_path):
    """policy="scripted,smooth": even episodes replay the scripted policy, odd ones the smooth
    noise, each from its own episode seed; an unknown name fails before any worker starts."""
    cfg = CollectConfig(
        env="vworld/PointMaze-v0",
        episodes=3,
        steps=8,
        workers=0,
        policy="scripted, smooth",
        out_dir=str(tmp_path / "mix"),
    )
    log = open_robot_log(collect(cfg))
    env = make_env(cfg.env, cfg.render_size, cfg.frame_skip, cfg.steps)
    try:
        for e, name in enumerate(["scripted", "smooth", "scripted"]):
            ref = run_episode(env, envs.make_policy(name, env), cfg.seed, e, cfg.steps)
            np.testing.assert_array_equal(log.load_episode(e, frames=False).actions, ref["actions"])
    finally:
        env.close()
    bad = CollectConfig(
        episodes=1, steps=2, workers=2, policy="smooth,nope", out_dir=str(tmp_path / "b")
    )
    with pytest.raises(ValueError, match="unknown policy 'nope'"):
        collect(bad)
    with pytest.raises(ValueError, match="empty policy name"):
        collect(
            CollectConfig(
                episodes=1, steps=2, workers=0, policy="smooth,", out_dir=str(tmp_path / "c")
            )
        )
