"""stable-worldmodel's tasks through vworld: adapter, collection, the protocol in both harnesses.

Skipped without the ``swm`` extra (``pip install 'vworld[swm]'``); every dataset is collected
here, a few short episodes on the CPU.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from typing import ClassVar

import numpy as np
import pytest
import torch

import envs
from vworld.data.collect import CollectConfig, collect, make_env, run_episode
from vworld.data.episodes import RobotLogError
from vworld.data.logs import open_robot_log

ENV_IDS = ["swm/TwoRoom-v1", "swm/PushT-v1"]


@pytest.fixture(scope="module")
def swm():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # swm warns about optional env families it lacks
        return pytest.importorskip("stable_worldmodel")


@pytest.fixture(scope="module")
def tworoom_heldout(swm, tmp_path_factory):
    """4 expert episodes of 40 frames: 15 protocol starts each (goal 25 steps later)."""
    out = tmp_path_factory.mktemp("swm") / "tworoom-heldout"
    return collect(
        CollectConfig(
            env="swm/TwoRoom-v1",
            episodes=4,
            steps=40,
            policy="expert",
            workers=0,
            seed=7,
            out_dir=str(out),
        )
    )


def test_import_envs_does_not_import_swm():
    code = "import sys, envs; assert 'stable_worldmodel' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_collect_two_episodes_reads_back(swm, env_id, tmp_path):
    cfg = CollectConfig(
        env=env_id,
        episodes=2,
        steps=12,
        policy="expert,smooth",
        workers=0,
        seed=1,
        out_dir=str(tmp_path / "data"),
    )
    root = collect(cfg)
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["robot_type"] == env_id
    log = open_robot_log(root)
    env = make_env(env_id, cfg.render_size, None, cfg.steps)
    base = env.unwrapped
    assert log.num_episodes == 2 and log.fps == 10
    assert (log.state_dim, log.sim_state_dim) == (base.state_dim, base.sim_state_dim)
    try:
        for e, name in enumerate(["expert", "smooth"]):
            ref = run_episode(env, envs.make_policy(name, env), cfg.seed, e, cfg.steps)
            ep = log.load_episode(e)
            assert ep.frames.shape == (len(ep), 64, 64, 3) and len(ep) == len(ref["actions"])
            np.testing.assert_array_equal(ep.actions, ref["actions"])
            np.testing.assert_array_equal(ep.states, ref["states"])
            np.testing.assert_array_equal(ep.sim_states, ref["sim_states"])
            assert np.abs(ep.frames.astype(float) - ref["frames"]).mean() < 3.0
            assert np.abs(np.diff(ep.sim_states[:, :2], axis=0)).sum() > 0  # the agent moved
    finally:
        env.close()


def _lag1_correlation(actions: np.ndarray) -> float:
    return float(np.mean([np.corrcoef(actions[:-1, d], actions[1:, d])[0, 1] for d in (0, 1)]))


def test_smooth_near_pushes_coherently_and_stays_by_the_block(swm):
    env = make_env("swm/PushT-v1", 64, None, 80)
    pusht = env.unwrapped.base
    try:
        corr = {}
        for name in ["expert", "smooth-near"]:
            policy = envs.make_policy(name, env)
            obs, _ = env.reset(seed=3)
            policy.reset(np.random.default_rng(3), env)
            actions = []
            for _ in range(80):
                a = policy(obs, env)
                agent = np.array(tuple(pusht.agent.position))
                block = np.array(tuple(pusht.block.position))
                if np.all(np.abs(agent - block) <= 100.0):  # then its target is in the square
                    target = agent + a.astype(np.float64) * pusht.action_scale
                    assert np.all(np.abs(target - block) <= 100.0 + 1e-3), name
                actions.append(a)
                obs, *_ = env.step(a)
            corr[name] = _lag1_correlation(np.array(actions))
        # swm's WeakPolicy draws each step afresh; smooth-near's steps follow on
        assert corr["smooth-near"] > 0.4 and abs(corr["expert"]) < 0.3, corr
    finally:
        env.close()


def test_smooth_near_needs_a_task_with_a_constraint(swm, tmp_path):
    out = tmp_path / "data"
    cfg = CollectConfig(
        env="swm/TwoRoom-v1", episodes=1, steps=4, policy="smooth-near", workers=0, out_dir=str(out)
    )
    with pytest.raises(ValueError, match=r"smooth-near.*TwoRoomEnv has none"):
        collect(cfg)
    assert not out.exists()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_goal_image_is_the_render_at_the_goal_state(swm, env_id):
    env = envs.make(env_id, render_size=48)
    u = env.unwrapped
    try:
        env.reset(seed=1)
        goal = u.get_state()
        start, _ = env.reset(seed=0, options={"goal": goal})
        np.testing.assert_array_equal(u.goal_state, goal)
        goal_pixels = u.goal_pixels()
        assert goal_pixels.shape == (48, 48, 3) and goal_pixels.dtype == np.uint8
        assert np.abs(goal_pixels.astype(int) - start["pixels"]).max() > 0
        at_goal, info = env.reset(seed=0, options={"state": goal, "goal": goal})
        np.testing.assert_array_equal(goal_pixels, at_goal["pixels"])
        assert info["success"] and info["distance"] < 1e-6
        drawn = [u.sample_goal_state(np.random.default_rng(s)) for s in (0, 0, 1)]
        assert drawn[0].shape == goal.shape and np.array_equal(drawn[0], drawn[1])
        assert not np.array_equal(drawn[0], drawn[2])
    finally:
        env.close()


def test_adapter_rejects_bad_input(swm):
    with pytest.raises(ValueError, match="swm/Nope-v0"):
        envs.make("swm/Nope-v0")
    with pytest.raises(ValueError, match="frame_skip"):
        envs.make("swm/TwoRoom-v1", frame_skip=2)
    env = envs.make("swm/TwoRoom-v1")
    with pytest.raises(ValueError, match="length 2"):
        env.unwrapped.set_goal(np.zeros(3))
    env.close()


def test_success_is_the_env_termination(swm):
    """Walking straight at a goal in the same room: success exactly when swm terminates."""
    env = envs.make("swm/TwoRoom-v1")
    u = env.unwrapped
    try:
        env.reset(seed=0, options={"state": [40.0, 60.0], "goal": [40.0, 100.0]})
        flags = []
        for _ in range(10):
            _, _, terminated, _, info = env.step(np.array([0.0, 1.0], np.float32))
            assert info["success"] == terminated
            flags.append(terminated)
        # 5 px a step from 40 px away: inside swm's 16 px after the 5th step
        assert flags.index(True) == 4 and u.task_distance(u.get_state(), u.goal_state) < 16
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_advance_is_step_without_the_frame(swm, env_id):
    """``advance`` (no render, for simulating candidate plans) ends where ``step`` does."""
    env = envs.make(env_id)
    u = env.unwrapped
    actions = np.random.default_rng(0).uniform(-1, 1, size=(8, 2)).astype(np.float32)
    try:
        env.reset(seed=4)
        for a in actions:
            env.step(a)
        stepped = u.get_state()
        env.reset(seed=4)
        for a in actions:
            u.advance(a)
        np.testing.assert_array_equal(u.get_state(), stepped)
        with pytest.raises(ValueError, match="action: must have shape"):
            u.advance(np.zeros(3))
    finally:
        env.close()


def test_push_t_distance_is_below_20_exactly_when_eval_state_succeeds(swm):
    """The distance vworld reports for PushT measures what success tests: no velocity."""
    env = envs.make("swm/PushT-v1")
    base, task = env.unwrapped.base, env.unwrapped.task
    rng = np.random.default_rng(0)
    goal = np.array([200.0, 200.0, 250.0, 250.0, 1.0, 0.0, 0.0])
    try:
        hits = 0
        for _ in range(400):
            s = goal.copy()
            s[:4] += rng.normal(0.0, 9.0, 4)
            s[4] = (s[4] + rng.normal(0.0, 0.3)) % (2 * np.pi)
            s[5:] = rng.normal(0.0, 300.0, 2)  # velocity: no part of success or distance
            success = bool(base.eval_state(goal, s)[0])
            assert success == (task.distance(base, s, goal) < task.success_threshold)
            hits += success
        assert 0 < hits < 400
        still = goal.copy()
        still[5:] = 0.0
        assert task.distance(base, still, goal) == 0.0
    finally:
        env.close()


class _Seeker:
    """Toward the goal's proprioception (TwoRoom: the agent's position), with seeded noise;
    keeps every image it is shown."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.goal = np.zeros(2)
        self.seen: list[np.ndarray] = []

    def reset(self, goal_obs, seed=None):
        self.rng = np.random.default_rng(seed)
        self.goal = np.asarray(goal_obs["state"], dtype=np.float64)
        self.seen = [goal_obs["pixels"].copy()]

    def act(self, obs):
        self.seen.append(obs["pixels"].copy())
        a = (self.goal - obs["state"]) / 25.0 + self.rng.normal(0.0, 0.3, 2)
        return np.clip(a, -1.0, 1.0)[None]


def _plan_config(root, **kw):
    from vworld.eval.harness import PlanConfig

    return PlanConfig(
        env="swm/TwoRoom-v1",
        episodes=3,
        seed=5,
        goal_source="dataset",
        goal_dataset=str(root),
        receding_horizon=5,
        num_video_episodes=0,
        **kw,
    )


def test_protocol_episodes_come_from_the_dataset(swm, tworoom_heldout):
    from vworld.eval.goals import make_goal
    from vworld.eval.harness import make_env
    from vworld.eval.swm_protocol import protocol_episodes

    cfg = _plan_config(tworoom_heldout)
    eps = protocol_episodes(tworoom_heldout, 3, 25, cfg.seed, cfg.env)
    assert [(e.episode, e.start) for e in eps] == sorted((e.episode, e.start) for e in eps)
    log = open_robot_log(tworoom_heldout)
    env = make_env(cfg)
    try:
        for i, e in enumerate(eps):
            rec = log.load_episode(e.episode)
            assert e.start >= 0 and e.start + 25 < len(rec)
            obs, _, goal_obs, goal_state = make_goal(env, cfg.seed + i, cfg)
            u = env.unwrapped
            np.testing.assert_array_equal(u.get_state(), rec.sim_states[e.start])
            np.testing.assert_array_equal(goal_state, rec.sim_states[e.start + 25])
            np.testing.assert_array_equal(u.goal_state, goal_state)
            np.testing.assert_array_equal(goal_obs["state"], rec.states[e.start + 25])
            np.testing.assert_array_equal(goal_obs["pixels"], u.goal_pixels())
            assert np.abs(obs["pixels"].astype(float) - rec.frames[e.start]).mean() < 3.0
    finally:
        env.close()


def test_plan_harness_runs_the_protocol(swm, tworoom_heldout, tmp_path):
    from vworld.eval.harness import run_planning

    cfg = _plan_config(tworoom_heldout, planner="random", out_dir=str(tmp_path / "plan"))
    cfg.episodes = 2
    res = run_planning(cfg)
    assert res["num_episodes"] == 2 and res["env"] == "swm/TwoRoom-v1"
    assert all(1 <= e["steps"] <= 50 for e in res["episodes"])
    assert all(
        e["success"] == (e["steps"] < 50 or e["final_distance"] < 16) for e in res["episodes"]
    )
    saved = json.loads((tmp_path / "plan" / "results.json").read_text())
    assert saved["config"]["goal_dataset"] == str(tworoom_heldout)


def test_policy_adapter_in_world_evaluate_matches_the_harness(swm, tworoom_heldout):
    """Same controller, same episodes: the same images, successes and final states in both."""
    from vworld.eval.goals import make_goal
    from vworld.eval.harness import make_env
    from vworld.eval.mpc import run_episode as run_mpc
    from vworld.eval.swm_policy import ControllerPolicy
    from vworld.eval.swm_protocol import world_evaluate_kwargs

    cfg = _plan_config(tworoom_heldout)
    env = make_env(cfg)
    ours, finals, seen = [], [], []
    try:
        for i in range(cfg.episodes):
            obs, info, goal_obs, _ = make_goal(env, cfg.seed + i, cfg)
            ctrl = _Seeker()
            ctrl.reset(goal_obs, seed=cfg.seed + i)
            res = run_mpc(env, ctrl, obs, info, cfg.max_steps, cfg.action_block)
            ours.append(res.success)
            finals.append(env.unwrapped.get_state())
            seen.append(ctrl.seen)
    finally:
        env.close()

    world = swm.World(cfg.env, num_envs=cfg.episodes, image_shape=(64, 64), max_episode_steps=100)
    try:
        policy = ControllerPolicy(_Seeker, cfg.action_block, 64, cfg.seed)
        world.set_policy(policy)
        kw = world_evaluate_kwargs(tworoom_heldout, cfg.episodes, 25, cfg.max_steps, cfg.seed)
        out = world.evaluate(**kw)
        theirs = [bool(s) for s in out["episode_successes"]]
        world_finals = [e.unwrapped.agent_position.numpy() for e in world.envs.envs]
    finally:
        world.close()
    assert theirs == ours and any(ours)
    np.testing.assert_allclose(np.stack(world_finals), np.stack(finals), atol=1e-4)
    assert max(len(ref) for ref in seen) >= 3  # the goal and two plans, at least once
    for ctrl, ref in zip(policy.controllers, seen):
        assert len(ctrl.seen) == len(ref)
        for a, b in zip(ctrl.seen, ref):
            np.testing.assert_array_equal(a, b)


class _TinyWorldModel(torch.nn.Module):
    """Latents: 4x4-pooled pixels; rollout: a fixed random map of the actions (a stand-in)."""

    frame_stride = 5
    angle_dims: ClassVar[list[int]] = []
    frame_codec = None
    sim_state_dims: ClassVar[list[int]] = []
    state_dims = None

    def observed_state(self, frames, proprio):
        return proprio

    def read_state(self, frames):
        raise RuntimeError("no probe")

    def __init__(self, action_dim: int = 2) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.act_to_z = torch.nn.Parameter(torch.randn(action_dim, 48, generator=g) * 0.05)
        self.act_to_s = torch.nn.Parameter(torch.randn(action_dim, 2, generator=g))

    def encode(self, frames):
        b, t, c, h, w = frames.shape
        x = torch.nn.functional.adaptive_avg_pool2d(frames.reshape(b * t, c, h, w) / 255.0, 4)
        return x.flatten(2).transpose(1, 2).reshape(b, t, 16, c)  # (B, T, tokens, C)

    def rollout(self, z_context, s_context, actions, latents=True):
        n, horizon, _ = actions.shape
        z, s = z_context[:, -1].expand(n, -1, -1), s_context[:, -1].expand(n, -1)
        zs, ss = [], []
        for h in range(horizon):
            z = z + torch.tanh(actions[:, h] @ self.act_to_z).reshape(n, 16, 3)
            s = s + actions[:, h] @ self.act_to_s
            zs.append(z)
            ss.append(s)
        return torch.stack(zs, 1), torch.stack(ss, 1)  # (N, H, 16, 3), (N, H, 2)


class _TinyBlockWorldModel(_TinyWorldModel):
    """The stand-in, fed a model step's 5 actions, one per env step (block_actions=each)."""

    block_action_dim = 10

    def __init__(self) -> None:
        super().__init__(action_dim=10)


@pytest.mark.parametrize("block_actions", ["held", "each"])
def test_cem_world_model_same_in_both_harnesses(swm, tworoom_heldout, tmp_path, block_actions):
    """vworld plan and World.evaluate on one world model: the same successes and distances."""
    from planners import CEMConfig
    from vworld.eval.harness import run_planning
    from vworld.eval.swm_policy import ControllerPolicy, controller_factory, evaluate_in_world

    cfg = _plan_config(
        tworoom_heldout, planner="cem", out_dir=str(tmp_path / "plan"), block_actions=block_actions
    )
    cfg.cem = CEMConfig(num_samples=16, num_elites=4, iterations=2)
    cfg.device = "cpu"
    model = _TinyBlockWorldModel() if block_actions == "each" else _TinyWorldModel()
    ours = run_planning(cfg, world_model=model)["episodes"]
    policy = ControllerPolicy(controller_factory(cfg, model), cfg.hold_steps, 64, cfg.seed)
    theirs = evaluate_in_world(cfg, policy=policy)["episode_successes"]
    assert [bool(s) for s in theirs] == [e["success"] for e in ours]
    assert not all(theirs) and any(theirs)
    for view, e in zip(policy.views, ours):
        dist = view.task_distance(view.get_state(), view.goal_state)
        assert dist == pytest.approx(e["final_distance"], abs=1e-3)


def test_protocol_errors_name_the_dataset_and_field(swm, tworoom_heldout, tmp_path):
    from vworld.eval.harness import PlanConfig
    from vworld.eval.swm_protocol import dataset_goal, protocol_episodes

    cfg = PlanConfig(
        env="swm/TwoRoom-v1", goal_source="dataset", goal_dataset=str(tmp_path / "none")
    )
    with pytest.raises(ValueError, match=r"goal_dataset: .*none: no such dataset"):
        dataset_goal(None, 0, cfg)

    with pytest.raises(ValueError, match="goal_dataset"):
        PlanConfig(env="swm/TwoRoom-v1", goal_source="dataset").validate()
    with pytest.raises(RobotLogError, match="length"):
        protocol_episodes(tworoom_heldout, 1000, 25)
    with pytest.raises(RobotLogError, match="robot_type"):
        protocol_episodes(tworoom_heldout, 2, 25, env_id="swm/PushT-v1")


def test_diagnostics_take_starts_and_goals_from_the_dataset(swm, tworoom_heldout, tmp_path):
    from vworld.eval.costs import CostConfig
    from vworld.eval.diagnostics import DiagnosticsConfig, planning_diagnostics
    from vworld.eval.goals import make_goal
    from vworld.eval.swm_protocol import protocol_episodes

    cfg = DiagnosticsConfig(
        starts=2,
        num_candidates=6,
        horizon=2,
        seed=5,
        env="swm/TwoRoom-v1",
        goal_dataset=str(tworoom_heldout),
    )
    protocol, cost = cfg.protocol(), CostConfig(latent_only=True)
    eps = protocol_episodes(tworoom_heldout, 2, 25, cfg.seed, cfg.env)
    log = open_robot_log(tworoom_heldout)
    env = envs.make(cfg.env)
    try:
        _, _, _, goal = make_goal(env, cfg.seed + 1, protocol)
        np.testing.assert_array_equal(
            goal, log.load_episode(eps[1].episode).sim_states[eps[1].start + 25]
        )
        cfg.goal_offset_steps = 10  # the recorded actions make one plan of 2 x 5 steps
        d = planning_diagnostics(env, _TinyWorldModel(), cost, cfg)
        assert all(np.isfinite(v) for v in d.values())
        assert d["action_sensitivity"] > 0.0
        # the recorded actions (averaged per block, held) nearly reach the recorded goal
        assert d["recorded_distance"] < d["planned_distance"]
        assert 0.0 <= d["exploited"] <= 1.0
        # the stand-in's rollout is a random map of the actions, not the executed frames
        assert d["recorded_error"] > 0.0 and d["planned_error"] > 0.0
        with pytest.raises(ValueError, match=r"goal_offset_steps: 25, .* 10 env steps"):
            planning_diagnostics(
                env, _TinyWorldModel(), cost, dataclasses.replace(cfg, goal_offset_steps=25)
            )
        assert d["recorded_success"] in (0.0, 0.5, 1.0)
        assert "sim_latent_success" not in d  # no simulator_cem: skipped
        cfg.goal_dataset = str(tmp_path / "none")
        with pytest.raises(ValueError, match=r"goal_dataset: .*none: no such dataset"):
            planning_diagnostics(env, _TinyWorldModel(), cost, cfg)
    finally:
        env.close()


def test_diagnostics_plan_with_the_simulator_as_the_world_model(swm, tworoom_heldout):
    """``simulator_cem``: CEM with the simulator in place of the predictor, scored by the
    latent cost on the encoder's latents of its frames, and by the task distance (shortcut)."""
    from planners import CEMConfig
    from vworld.eval.costs import CostConfig
    from vworld.eval.diagnostics import DiagnosticsConfig, planning_diagnostics

    cfg = DiagnosticsConfig(
        starts=2,
        num_candidates=4,
        horizon=2,
        seed=5,
        env="swm/TwoRoom-v1",
        goal_dataset=str(tworoom_heldout),
        goal_offset_steps=10,
        simulator_cem=CEMConfig(num_samples=24, num_elites=4, iterations=3, init_std=0.5),
    )
    env = envs.make(cfg.env)
    try:
        d = planning_diagnostics(env, _TinyWorldModel(), CostConfig(cost_on="all"), cfg)
    finally:
        env.close()
    for kind in ("latent", "state"):
        assert 0.0 <= d[f"sim_{kind}_success"] <= 1.0
        assert np.isfinite(d[f"sim_{kind}_distance"])
    # CEM on the true distance through the true dynamics ends closer than CEM on a tiny
    # untrained model's cost
    assert d["sim_state_distance"] < d["planned_distance"]
