"""MPC with oracle dynamics on Reach, and the planning harness end to end."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import numpy as np
import pytest
import torch

from planners import CEM, CEMConfig, GradientConfig, MPPIConfig
from vworld.config import load_config
from vworld.eval.costs import CostConfig
from vworld.eval.goals import make_goal
from vworld.eval.harness import PlanConfig, make_env, run_planning
from vworld.eval.mpc import LatentController
from vworld.eval.oracle import OracleSimulator
from vworld.world_model import WorldModel

FAST_CEM = CEMConfig(num_samples=16, num_elites=4, iterations=2)


def test_oracle_simulator_matches_env_steps():
    env = make_env(PlanConfig())
    try:
        u = env.unwrapped
        _, _, _, goal = make_goal(env, 3, PlanConfig())
        start = u.get_state()
        actions = np.random.default_rng(0).uniform(-1, 1, (3, 2)).astype(np.float32)
        states = OracleSimulator(u).simulate(start, actions, action_block=2)
        for k, a in enumerate(actions):
            for _ in range(2):
                env.step(a)
            assert np.array_equal(states[k], u.get_state())
        cost = OracleSimulator(u).costs(start, goal, actions[None], 2, "last")
        assert cost[0] == pytest.approx(u.task_distance(u.get_state(), goal))
    finally:
        env.close()


@pytest.mark.parametrize("goal_source", ["offset", "sample"])
def test_make_goal_restores_start_and_renders_goal(goal_source):
    cfg = PlanConfig(goal_source=goal_source, goal_offset_steps=10)
    env = make_env(cfg)
    try:
        u = env.unwrapped
        obs0, _ = env.reset(seed=5)
        start = u.get_state()
        obs, info, goal_obs, goal_state = make_goal(env, 5, cfg)
        assert np.array_equal(u.get_state(), start)
        assert np.array_equal(obs["pixels"], obs0["pixels"])
        assert np.array_equal(u.goal_state, goal_state)
        assert info["distance"] == pytest.approx(u.task_distance(start, goal_state))
        assert info["distance"] > 0.05
        u.set_state(goal_state)
        assert np.array_equal(goal_obs["pixels"], u.render())
        assert goal_obs["state"].shape == obs["state"].shape
        # same seed, same goal
        _, _, _, again = make_goal(env, 5, cfg)
        assert np.array_equal(again, goal_state)
    finally:
        env.close()


def test_controller_recodes_images_like_the_training_videos(tiny_world_model):
    from vworld.data.codec import recode_frames

    codec = {"codec": "h264", "pix_fmt": "yuv420p", "crf": 18}
    seen = []
    encode = tiny_world_model.encode

    def spy(frames):
        seen.append(frames.clone())
        return encode(frames)

    tiny_world_model.encode = spy
    tiny_world_model.frame_codec = codec
    rng = np.random.default_rng(0)
    goal = {"pixels": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "state": np.zeros(4)}
    planner = CEM(dataclasses.replace(FAST_CEM, horizon=2, action_dim=2))
    for match in (True, False):
        seen.clear()
        ctl = LatentController(tiny_world_model, planner, CostConfig(), match_recording=match)
        ctl.reset(goal)
        ctl.act({"pixels": goal["pixels"], "state": np.zeros(4)})
        want = recode_frames(goal["pixels"][None], **codec)[0] if match else goal["pixels"]
        for frames in seen:  # the goal, then the observation
            np.testing.assert_array_equal(frames[0, 0].permute(1, 2, 0).numpy(), want)
        assert len(seen) == 2


def test_scripted_offset_goals_move_the_push_block():
    # Random offset goals rarely touch the block; the scripted collection policy pushes it.
    counts = {}
    for policy in ("random", "scripted"):
        cfg = PlanConfig(
            env="vworld/Push-v0", render_size=32, goal_policy=policy, goal_offset_steps=50
        )
        env = make_env(cfg)
        try:
            starts = [make_goal(env, seed, cfg)[1]["success"] for seed in range(6)]
            _, _, _, again = make_goal(env, 0, cfg)
            assert np.array_equal(again, make_goal(env, 0, cfg)[3])  # deterministic
        finally:
            env.close()
        counts[policy] = sum(starts)
    assert counts["scripted"] < counts["random"]
    with pytest.raises(ValueError, match="goal_policy must be one of"):
        PlanConfig(goal_policy="expert").validate()


def test_oracle_mpc_reaches_goals(tmp_path):
    cfg = PlanConfig(
        planner="oracle",
        episodes=3,
        seed=0,
        horizon=3,
        max_steps=50,
        oracle=CEMConfig(num_samples=32, num_elites=4, iterations=4, return_type="best"),
        num_video_episodes=0,
        out_dir=str(tmp_path),
    )
    res = run_planning(cfg)
    assert res["num_success"] >= 2, res["episodes"]
    for e in res["episodes"]:
        if e["success"]:
            assert e["final_distance"] < 0.05 and e["steps"] < 50
    # the random baseline does much worse on the same episodes
    rnd = run_planning(PlanConfig(**{**cfg.__dict__, "planner": "random"}))
    assert rnd["num_success"] < res["num_success"]
    assert rnd["mean_final_distance"] > res["mean_final_distance"]


@pytest.mark.parametrize("planner", ["cem", "mppi", "gd"])
def test_harness_end_to_end_tiny_world_model(tmp_path, tiny_world_model, planner):
    assert isinstance(tiny_world_model, WorldModel)
    cfg = PlanConfig(
        world_model="unused-when-passed",
        planner=planner,
        episodes=2,
        max_steps=8,
        goal_offset_steps=10,
        horizon=3,
        receding_horizon=2,
        cem=FAST_CEM,
        mppi=MPPIConfig(num_samples=16, num_elites=4, iterations=2),
        gd=GradientConfig(num_samples=2, iterations=2),
        cost=CostConfig(cost_on="all", state_weight=0.1, goal_state="given"),
        num_video_episodes=1,
        out_dir=str(tmp_path / "out"),
        device="cpu",
    )
    res = run_planning(cfg, world_model=tiny_world_model)
    out = tmp_path / "out"
    saved = json.loads((out / "results.json").read_text())
    assert saved["num_episodes"] == 2 and len(saved["episodes"]) == 2
    assert 0.0 <= saved["success_rate_ci95"][0] <= saved["success_rate"]
    assert saved["success_rate"] <= saved["success_rate_ci95"][1] <= 1.0
    assert saved["config"]["planner"] == planner and saved["config"]["cem"]["num_samples"] == 16
    for e in saved["episodes"]:
        assert set(e) >= {"success", "final_distance", "steps", "plan_seconds_per_step"}
        assert 1 <= e["steps"] <= 8 and e["final_distance"] >= 0
        # two planned actions of 5 env steps each: at most 2 plans in an 8-step budget
        assert e["num_plans"] <= 2
    assert res["plan_seconds_per_step"] > 0
    assert (out / "distances.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import av

    with av.open(str(out / "episodes.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    steps0 = saved["episodes"][0]["steps"]
    assert len(frames) == steps0 + 1 + 3  # reset frame, one per step, black gap
    assert frames[0].shape == (128, 256, 3)  # observation beside goal, upscaled x2


def test_harness_same_seed_same_results(tmp_path, tiny_world_model):
    kw = dict(planner="cem", episodes=2, max_steps=5, horizon=2, cem=FAST_CEM, num_video_episodes=0)
    a = run_planning(PlanConfig(out_dir=str(tmp_path / "a"), **kw), world_model=tiny_world_model)
    b = run_planning(PlanConfig(out_dir=str(tmp_path / "b"), **kw), world_model=tiny_world_model)
    assert [e["final_distance"] for e in a["episodes"]] == [
        e["final_distance"] for e in b["episodes"]
    ]


def test_latent_controller_warm_starts_from_shifted_plan(tiny_world_model):
    calls = []

    class Recorder(CEM):
        def plan(self, cost_fn, init=None, generator=None, init_std=None):
            out, info = super().plan(cost_fn, init, generator, init_std)
            calls.append((None if init is None else init.clone(), out.clone()))
            return out, info

    planner = Recorder(
        CEMConfig(horizon=4, action_dim=2, num_samples=8, num_elites=2, iterations=1)
    )
    ctrl = LatentController(tiny_world_model, planner, CostConfig(), receding_horizon=1)
    obs = {"pixels": np.zeros((64, 64, 3), np.uint8), "state": np.zeros(4, np.float32)}
    ctrl.reset({"pixels": np.full((64, 64, 3), 200, np.uint8), "state": np.zeros(4)}, seed=0)
    a1 = ctrl.act(obs)
    ctrl.act(obs)
    assert a1.shape == (1, 2)
    assert calls[0][0] is None
    init2, first = calls[1][0], calls[0][1]
    assert torch.equal(init2[:-1], first[1:]) and torch.equal(init2[-1], torch.zeros(2))
    ctrl.reset({"pixels": np.zeros((64, 64, 3), np.uint8)}, seed=0)
    ctrl.act(obs)
    assert calls[2][0] is None  # a new episode starts cold


def test_config_errors(tiny_world_model, tmp_path):
    with pytest.raises(ValueError, match="planner must be one of"):
        PlanConfig(planner="bogus").validate()
    with pytest.raises(ValueError, match="receding_horizon"):
        PlanConfig(horizon=2, receding_horizon=3).validate()
    with pytest.raises(ValueError, match="action_block"):
        run_planning(
            PlanConfig(action_block=2, episodes=1, out_dir=str(tmp_path)),
            world_model=tiny_world_model,
        )
    with pytest.raises(ValueError, match="world_model must be a path"):
        run_planning(PlanConfig(episodes=1, out_dir=str(tmp_path)))


class PixelOracleWorldModel:
    """Test-only world model with a perfect but pixel-level latent: ``encode`` pools pixels
    to 16x16, ``rollout`` simulates each candidate in a copy of the physics (from the
    controlled env's current state) and encodes the rendered frames. Planning with it checks
    the latent path end to end: goal encoding, cost, action blocks and replanning."""

    frame_stride = 5
    angle_dims: ClassVar[list[int]] = []
    frame_codec = None
    sim_state_dims: ClassVar[list[int]] = []
    state_dims = None

    def __init__(self, size: int) -> None:
        from envs.reach import ReachEnv

        self.env = None  # set to the controlled env once the harness has built it
        self.render_env = ReachEnv(render_size=size)
        self.sim = OracleSimulator(self.render_env)

    def encode(self, frames):
        b, t, c, h, w = frames.shape
        x = torch.nn.functional.adaptive_avg_pool2d(frames.reshape(b * t, c, h, w).float(), 16)
        return x.reshape(b, t, -1) / 255.0  # (B, T, 3 * 16 * 16)

    def observed_state(self, frames, proprio):
        return proprio

    def read_state(self, frames):
        raise RuntimeError("no probe")

    def rollout(self, z_context, s_context, actions, latents=True):
        state = self.env.unwrapped.get_state()
        zs = []
        for seq in actions.cpu().numpy():
            frames = []
            for s in self.sim.simulate(state, seq, self.frame_stride):
                self.render_env.set_state(s)
                frames.append(self.render_env.render())
            video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)[None]  # (1, H, C, h, w)
            zs.append(self.encode(video)[0])
        z = torch.stack(zs)  # (N, H, D)
        return z, torch.zeros(*z.shape[:2], 4)


def test_latent_mpc_with_pixel_latents_reaches_goal(tmp_path, monkeypatch):
    import vworld.eval.harness as harness

    wm = PixelOracleWorldModel(size=32)
    make = harness.make_env

    def make_and_attach(cfg):
        wm.env = make(cfg)
        return wm.env

    monkeypatch.setattr(harness, "make_env", make_and_attach)
    cfg = PlanConfig(
        planner="cem",
        episodes=1,
        horizon=3,
        max_steps=50,
        render_size=32,
        cem=CEMConfig(num_samples=32, num_elites=4, iterations=3, return_type="best"),
        cost=CostConfig(cost_on="all"),
        num_video_episodes=0,
        out_dir=str(tmp_path),
    )
    res = run_planning(cfg, world_model=wm)
    ep = res["episodes"][0]
    assert ep["initial_distance"] > 1.0 and not ep["start_success"]
    assert res["num_start_success"] == 0
    assert ep["success"] and ep["final_distance"] < 0.05, ep


def test_plan_config_loads_with_overrides():
    from vworld.config import ConfigError, load_config

    cfg = load_config(PlanConfig, overrides=["planner=mppi", "mppi.temperature=2.0", "episodes=3"])
    assert cfg.planner == "mppi" and cfg.mppi.temperature == 2.0 and cfg.episodes == 3
    assert cfg.oracle.return_type == "best" and cfg.cem.num_samples == 300
    with pytest.raises(ConfigError):
        load_config(PlanConfig, overrides=["cem.num_sample=10"])
    with pytest.raises(ValueError, match="goal_source"):
        load_config(PlanConfig, overrides=["goal_source=dataset"])


def test_goal_api_and_oracle_reject_other_envs():
    import gymnasium

    from vworld.eval.mpc import goal_api

    env = make_env(PlanConfig())
    try:
        assert goal_api(env) is env.unwrapped
    finally:
        env.close()
    with pytest.raises(TypeError, match="goal-env methods"):
        goal_api(gymnasium.make("CartPole-v1"))
    with pytest.raises(TypeError, match=r"envs\.GoalEnv tasks only"):
        OracleSimulator(object())


def test_frame_stride_of_the_world_model_must_match_action_block(tiny_world_model, tmp_path):
    class Strided(type(tiny_world_model)):
        frame_stride = 3

    with pytest.raises(ValueError, match="set action_block=3"):
        run_planning(PlanConfig(episodes=1, out_dir=str(tmp_path)), world_model=Strided())


def test_goal_state_from_the_probe_given_or_refused(tiny_world_model, tmp_path):
    """goal_state=probe aims at the world model's estimate from the goal image; given reads
    the env's state; a world model without a probe, or unprobed dims, are refused by name."""
    env = make_env(PlanConfig())
    obs, _, goal_obs, _ = make_goal(env, 0, PlanConfig())
    env.close()
    planner = CEM(dataclasses.replace(FAST_CEM, horizon=2, action_dim=2))
    probe_cost = CostConfig(cost_on="all", latent_weight=0.0, state_weight=1.0)
    ctl = LatentController(tiny_world_model, planner, probe_cost)
    ctl.reset(goal_obs)
    frames = torch.from_numpy(goal_obs["pixels"]).permute(2, 0, 1)[None, None]
    expected = tiny_world_model.read_state(frames).reshape(-1)
    est = ctl.goal_state_estimate
    assert list(est) == [0, 1] and est[0] == pytest.approx(float(expected[0]))
    assert ctl.act(obs).shape == (1, 2)

    given = LatentController(
        tiny_world_model,
        planner,
        dataclasses.replace(probe_cost, goal_state="given", state_dims=[1, 3]),
    )
    given.reset(goal_obs)
    assert given.goal_state_estimate == pytest.approx(
        {1: float(goal_obs["state"][1]), 3: float(goal_obs["state"][3])}
    )

    with pytest.raises(ValueError, match=r"state_dims \[3\] are not probed"):
        LatentController(
            tiny_world_model, planner, dataclasses.replace(probe_cost, state_dims=[3])
        ).reset(goal_obs)

    class NoProbe(type(tiny_world_model)):
        state_dims = None

    with pytest.raises(ValueError, match="needs a world model with a state probe"):
        LatentController(NoProbe(), planner, probe_cost).reset(goal_obs)

    res = run_planning(
        PlanConfig(
            planner="cem",
            episodes=2,
            max_steps=5,
            horizon=2,
            cem=FAST_CEM,
            cost=probe_cost,
            num_video_episodes=0,
            out_dir=str(tmp_path / "p"),
        ),
        world_model=tiny_world_model,
    )
    saved = json.loads((tmp_path / "p" / "results.json").read_text())
    assert set(saved["goal_state_error_median"]) == {"0", "1"}
    assert all(set(e["goal_state_error"]) == {"0", "1"} for e in saved["episodes"])
    assert res["episodes"][0]["goal_state_estimate"].keys() == {0, 1}


def test_controller_reads_object_state_from_each_image(tiny_world_model_with_object):
    """A world model whose state goes on past the robot's (``train-ac data.sim_state_dims``)
    gets the robot's sensed state followed by what its probe reads from the observed image;
    the simulator's state never reaches it."""
    wm = tiny_world_model_with_object
    env = make_env(PlanConfig())
    obs, _, goal_obs, _ = make_goal(env, 0, PlanConfig())
    env.close()
    cost = CostConfig(cost_on="all", latent_weight=1.0)
    ctl = LatentController(wm, CEM(dataclasses.replace(FAST_CEM, horizon=2, action_dim=2)), cost)
    ctl.reset(goal_obs)
    ctl.act(obs)
    frames = torch.from_numpy(obs["pixels"]).permute(2, 0, 1)[None, None]
    want = torch.cat([torch.as_tensor(obs["state"]).float(), wm.read_state(frames)[0, 0, 1:]])
    assert wm.seen and wm.seen[0].shape == (1, 1, 5)
    torch.testing.assert_close(wm.seen[0][0, 0], want)


def test_latent_only_cost_refuses_probes_goal_states_and_object_states(tiny_world_model):
    """The JEPA planner's cost compares latents with the goal image's latent and nothing
    else: a state term, and a world model whose state holds probe-read simulator labels, are
    refused before any planning."""
    planner = CEM(dataclasses.replace(FAST_CEM, horizon=2, action_dim=2))
    for bad in (
        {"state_weight": 1.0, "goal_state": "probe"},
        {"state_weight": 1.0, "goal_state": "given"},
        {"latent_weight": 0.0, "state_weight": 1.0},
        {"goal_state": "given"},  # unused without a state term, and still refused
    ):
        with pytest.raises(ValueError, match=r"cost\.latent_only"):
            LatentController(tiny_world_model, planner, CostConfig(latent_only=True, **bad))

    class WithObject(type(tiny_world_model)):
        sim_state_dims: ClassVar[list[int]] = [4]

    with pytest.raises(ValueError, match=r"cost\.latent_only.*\[4\]"):
        LatentController(WithObject(), planner, CostConfig(latent_only=True))
    # the same world model and a mixed cost are still allowed without latent_only
    LatentController(WithObject(), planner, CostConfig(state_weight=1.0))
    ctl = LatentController(tiny_world_model, planner, CostConfig(latent_only=True))
    env = make_env(PlanConfig())
    obs, _, goal_obs, _ = make_goal(env, 0, PlanConfig())
    env.close()
    ctl.reset(goal_obs)
    assert ctl.goal_state_estimate is None  # no state term: nothing read from the goal image
    assert ctl.act(obs).shape == (1, 2)


def test_latent_only_results_record_the_cost(tmp_path, tiny_world_model):
    cfg = load_config(
        PlanConfig,
        "configs/plan/cem-reach-latent.yaml",
        [
            f"out_dir={tmp_path}",
            "episodes=1",
            "max_steps=5",
            "cem.num_samples=16",
            "cem.num_elites=4",
            "cem.iterations=2",
            "num_video_episodes=0",
        ],
    )
    res = run_planning(cfg, world_model=tiny_world_model)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["cost"]["latent_only"] is True and saved["cost"]["state_weight"] == 0.0
    assert saved["cost"]["goal_state"] is None  # no state term reads a goal state
    assert res["num_episodes"] == 1


def test_concat_world_model_takes_held_or_each_steps_actions(tiny_jepa):
    wm = tiny_jepa("input")
    z0 = wm.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    s0 = torch.zeros(1, 1, 4)
    held = torch.randn(3, 2, 2, generator=torch.Generator().manual_seed(0))
    assert wm.block_action_dim == 10
    z_held, _ = wm.rollout(z0, s0, held)
    z_each, _ = wm.rollout(z0, s0, held.repeat(1, 1, 5))  # the same action at every env step
    torch.testing.assert_close(z_each, z_held)
    other = held.repeat(1, 1, 5)
    other[..., :2] = -other[..., :2]  # the first env step of each block differs
    assert not torch.allclose(wm.rollout(z0, s0, other)[0], z_held)


def test_block_actions_each_plans_and_executes_every_env_step(tmp_path, tiny_jepa):
    from vworld.eval.harness import make_latent_controller

    cfg = PlanConfig(
        world_model="unused-when-passed",
        episodes=2,
        max_steps=12,
        goal_offset_steps=10,
        horizon=3,
        receding_horizon=2,
        block_actions="each",
        cem=FAST_CEM,
        cost=CostConfig(latent_only=True),
        num_video_episodes=0,
        out_dir=str(tmp_path / "out"),
        device="cpu",
    )
    wm = tiny_jepa("input")
    ctl = make_latent_controller(cfg, wm, 2, -1.0, 1.0)
    assert ctl.planner.cfg.action_dim == 10  # a model step's 5 actions of 2
    env = make_env(cfg)
    try:
        obs, _, goal_obs, _ = make_goal(env, 0, cfg)
        ctl.reset(goal_obs)
        actions = ctl.act(obs)
    finally:
        env.close()
    assert actions.shape == (2 * 5, 2)  # receding_horizon model steps, one action per env step
    assert not np.allclose(actions[0], actions[1])  # not one action held over the block
    np.testing.assert_array_equal(actions, ctl._prev[:2].reshape(10, 2).numpy())
    res = run_planning(cfg, world_model=wm)
    assert res["config"]["block_actions"] == "each"
    # one plan call yields 10 env steps: a 12-step budget takes two calls
    assert all(
        e["num_plans"] == 2 and e["steps"] == 12 for e in res["episodes"] if not e["success"]
    )


def test_block_actions_each_needs_a_world_model_that_takes_them(tiny_world_model, tmp_path):
    from vworld.eval.harness import make_latent_controller

    with pytest.raises(ValueError, match="block_actions must be one of"):
        PlanConfig(block_actions="split").validate()
    with pytest.raises(ValueError, match="block_actions=each plans with a world model"):
        PlanConfig(block_actions="each", planner="random").validate()
    cfg = PlanConfig(block_actions="each", episodes=1, out_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"block_actions=each: .*data.action_mode=concat"):
        make_latent_controller(cfg, tiny_world_model, 2, -1.0, 1.0)
    assert PlanConfig().hold_steps == 5 and cfg.hold_steps == 1


def test_plan_records_its_episodes_as_a_dataset_that_merges_with_collected_data(
    tmp_path, tiny_world_model
):
    """record_dir: the executed steps as a LeRobot dataset, joined with collected data by
    vworld merge; each recorded step replays in the simulator to the next recorded state."""
    from vworld.data.collect import CollectConfig, collect
    from vworld.data.episodes import RobotLogError
    from vworld.data.logs import open_robot_log
    from vworld.data.record import MergeConfig, merge

    cfg = PlanConfig(
        world_model="unused-when-passed",
        episodes=2,
        max_steps=10,
        goal_offset_steps=10,
        horizon=2,
        cem=FAST_CEM,
        num_video_episodes=0,
        record_dir=str(tmp_path / "rollouts"),
        out_dir=str(tmp_path / "out"),
        device="cpu",
    )
    res = run_planning(cfg, world_model=tiny_world_model)
    rec = open_robot_log(tmp_path / "rollouts")
    assert rec.episode_lengths == [e["steps"] for e in res["episodes"]]
    assert rec.info["robot_type"] == "vworld/Reach-v0"
    ep = rec.load_episode(0)
    env = make_env(cfg)
    try:  # actions[t] taken at frame t leads to the state of frame t + 1
        env.reset(seed=0)
        env.unwrapped.set_state(ep.sim_states[0])
        for t in range(3):
            obs, *_ = env.step(ep.actions[t])
            np.testing.assert_allclose(env.unwrapped.get_state(), ep.sim_states[t + 1], atol=1e-6)
            np.testing.assert_allclose(obs["state"], ep.states[t + 1], atol=1e-5)
    finally:
        env.close()
    assert ep.frames.shape == (ep.actions.shape[0], 64, 64, 3)
    with pytest.raises(FileExistsError, match="rollouts: already exists"):
        run_planning(cfg, world_model=tiny_world_model)

    data = collect(CollectConfig(episodes=2, steps=12, workers=0, out_dir=str(tmp_path / "data")))
    out = merge(MergeConfig(inputs=[str(data), cfg.record_dir], out_dir=str(tmp_path / "m")))
    joined = open_robot_log(out)
    assert joined.episode_lengths == [12, 12, *rec.episode_lengths]
    np.testing.assert_array_equal(joined.load_episode(2).actions, ep.actions)
    assert np.abs(joined.load_episode(2).frames.astype(int) - ep.frames).mean() < 3.0
    small = collect(
        CollectConfig(episodes=1, steps=5, render_size=32, workers=0, out_dir=str(tmp_path / "s"))
    )
    with pytest.raises(RobotLogError, match="frame_size"):
        merge(MergeConfig(inputs=[str(data), str(small)], out_dir=str(tmp_path / "bad")))
    assert not (tmp_path / "bad").exists()


def test_plan_with_an_ensemble_of_saved_world_models(tmp_path, tiny_jepa):
    from vworld.eval.harness import load_plan_world_model, make_latent_controller
    from vworld.world_model import EnsembleWorldModel

    paths = []
    for seed in (1, 2):
        wm = tiny_jepa("input")
        torch.manual_seed(seed)
        for p in wm.predictor.parameters():
            p.data.normal_(0, 0.3)
        paths.append(str(wm.save(tmp_path / f"wm{seed}")))
    cfg = PlanConfig(
        world_model=",".join(paths),
        episodes=1,
        max_steps=10,
        goal_offset_steps=10,
        horizon=2,
        receding_horizon=1,
        block_actions="each",
        cem=FAST_CEM,
        cost=CostConfig(latent_only=True),
        num_video_episodes=0,
        out_dir=str(tmp_path / "out"),
        device="cpu",
    )
    ens = load_plan_world_model(cfg, torch.device("cpu"))
    assert isinstance(ens, EnsembleWorldModel) and len(ens) == 2
    ctl = make_latent_controller(cfg, ens, 2, -1.0, 1.0)
    one = make_latent_controller(cfg, ens.members[0], 2, -1.0, 1.0)
    env = make_env(cfg)
    try:
        obs, _, goal_obs, _ = make_goal(env, 0, cfg)
        ctl.reset(goal_obs)
        one.reset(goal_obs)
        assert ctl._z_goal.shape[-1] == 2 * one._z_goal.shape[-1]
        assert not np.allclose(ctl.act(obs), one.act(obs))  # the other member counts too
        worst = dataclasses.replace(cfg, cost=CostConfig(latent_only=True, ensemble="max"))
        pessimist = make_latent_controller(worst, ens, 2, -1.0, 1.0)
        pessimist.reset(goal_obs)
        assert pessimist.act(obs).shape == ctl.act(obs).shape
        with pytest.raises(ValueError, match="this world model is one model"):
            make_latent_controller(worst, ens.members[0], 2, -1.0, 1.0)
    finally:
        env.close()
    res = run_planning(cfg)  # loads the members from the comma-joined folders
    assert res["config"]["world_model"] == cfg.world_model
    assert res["episodes"][0]["steps"] > 0
