"""The action-conditioned trainer on a real collected MuJoCo dataset, on the CPU."""

import json

import pytest
import torch

from vworld.config import load_config
from vworld.models.registry import create_model
from vworld.train.monitor import read_metrics
from vworld.train.train_ac import TrainACConfig, train_ac
from vworld.world_model import load_world_model


def _cfg(reach_log, tiny_encoder, out_dir, *extra, recipe="configs/ac/tiny-reach-transformer.yaml"):
    return load_config(
        TrainACConfig,
        recipe,
        [
            f"encoder={tiny_encoder}",
            f"data.path={reach_log}",
            f"out_dir={out_dir}",
            "model.name=ac_test",
            "data.pool_grid=null",
            "data.val_fraction=0.25",
            "train.batch_size=16",
            "train.val_horizon=3",
            "train.val_windows=64",
            "optim.warmup_steps=10",
            *extra,
        ],
    )


def test_loss_falls_and_model_beats_copy_last(reach_log, tiny_encoder, tmp_path):
    cfg = _cfg(reach_log, tiny_encoder, tmp_path / "wm", "train.steps=250", "train.val_every=250")
    out = train_ac(cfg)
    rows = read_metrics(out / "metrics.jsonl")
    first = sum(r["loss"] for r in rows[:2]) / 2
    assert rows[-1]["loss"] < 0.7 * first, (first, rows[-1]["loss"])
    val = rows[-1]
    for h in (1, 2, 3):
        assert val[f"val_l1_h{h}"] < val[f"val_copy_h{h}"], val
    # the exported world model rolls out many candidates at once, with and without the cache
    wm = load_world_model(out)
    meta = json.loads((out / "world_model.json").read_text())
    assert meta["frame_stride"] == 5
    # collected with the defaults, so planners can recode goal images the same way
    assert meta["frame_codec"] == {"codec": "h264", "pix_fmt": "yuv420p", "crf": 18}
    assert wm.frame_codec == meta["frame_codec"]
    frames = torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8)
    z = wm.encode(frames)
    s = torch.zeros(1, 1, 4)
    plans = torch.rand(7, 4, 2) * 2 - 1
    z_c, s_c = wm.rollout(z, s, plans)
    z_u, s_u = wm.rollout(z, s, plans, use_cache=False)
    assert z_c.shape == (7, 4, *z.shape[2:]) and s_c.shape == (7, 4, 4)
    torch.testing.assert_close(z_c, z_u, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s_c, s_u, atol=1e-4, rtol=1e-4)


def _killed_then_resumed(monkeypatch, make_cfg, kill_step: int) -> list[float]:
    """Train ``make_cfg()``, killed right after its checkpoint at ``kill_step``, then run the
    same command again; returns the resumed run's logged losses."""
    from vworld.train import checkpoint as mod

    real = mod.save_training_checkpoint

    class Killed(Exception):
        pass

    def die(state, d, step, keep_every=0):
        real(state, d, step, keep_every)
        if step == kill_step:
            raise Killed

    monkeypatch.setattr(mod, "save_training_checkpoint", die)
    with pytest.raises(Killed):
        train_ac(make_cfg())
    monkeypatch.setattr(mod, "save_training_checkpoint", real)
    return [r["loss"] for r in read_metrics(train_ac(make_cfg()) / "metrics.jsonl")]


def test_features_cached_and_run_resumes(reach_log, tiny_encoder, tmp_path, monkeypatch):

    steps = ["train.steps=6", "train.ckpt_every=3", "train.log_every=1", "train.val_every=100"]
    full = train_ac(_cfg(reach_log, tiny_encoder, tmp_path / "full", *steps))
    want = [r["loss"] for r in read_metrics(full / "metrics.jsonl")]
    assert len(list((full / "cache").glob("features-*.pt"))) == 1
    got = _killed_then_resumed(
        monkeypatch, lambda: _cfg(reach_log, tiny_encoder, tmp_path / "cut", *steps), 3
    )
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_proprio_model_learns_action_dependent_latents(reach_log, tiny_encoder, tmp_path):
    cfg = _cfg(
        reach_log,
        tiny_encoder,
        tmp_path / "wm",
        "model.name=proprio_test",
        "model.predictor_embed_dim=64",
        "data.pool_grid=[4,4]",
        "probe.pool_grid=null",  # the default: the encoder's grid (the recipe pins 4x4)
        "train.steps=300",
        "train.val_every=100",
        "optim.lr=3e-3",
        recipe="configs/ac/tiny-reach.yaml",
    )
    out = train_ac(cfg)
    rows = read_metrics(out / "metrics.jsonl")
    assert rows[-1]["loss"] < 0.7 * rows[0]["loss"], (rows[0]["loss"], rows[-1]["loss"])
    vals = [r for r in rows if "val_l1_h3" in r]
    # twelve short episodes are too few to beat copying the last latent; it must still improve
    assert vals[-1]["val_l1_h3"] < vals[0]["val_l1_h3"], [v["val_l1_h3"] for v in vals]
    meta = json.loads((out / "world_model.json").read_text())
    assert meta["predictor"]["kwargs"]["angle_dims"] == [0]
    assert meta["stats"]["state_mean"][0] == 0.0 and meta["stats"]["state_std"][0] == 1.0
    wm = load_world_model(out)
    z = wm.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    plans = torch.tensor([[[1.0, 1.0]] * 3, [[-1.0, -1.0]] * 3])
    z_r, s_r = wm.rollout(z, torch.zeros(1, 1, 4), plans)
    # opposite torques must take the arm (and its latent) to different places
    assert (s_r[0, -1, :2] - s_r[1, -1, :2]).abs().max() > 0.05, s_r[:, -1]
    assert (z_r[0, -1] - z_r[1, -1]).abs().mean() > 1e-3
    assert s_r[..., 0].abs().max() <= torch.pi + 1e-5  # the shoulder angle stays wrapped
    # the recipe's state probe reads both joint angles from a frame
    assert (out / "probe.safetensors").is_file() and wm.state_dims == [0, 1]
    # it reads the encoder's unpooled tokens while the predictor works on 4x4 pooled ones
    assert meta["probe"]["grid"] == meta["encoder_grid"] == list(wm.probe_grid) == [8, 8]
    assert meta["pool_grid"] == [4, 4]
    assert meta["probe"]["kwargs"]["num_tokens"] == wm.probe_grid[0] * wm.probe_grid[1]
    assert wm.read_state(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8)).shape == (1, 1, 2)
    assert vals[-1]["val_probe_mae_s1"] < vals[0]["val_probe_mae_s1"], vals
    # a checkpoint with a probe does not resume into a run without one
    cfg.probe.enabled = False
    cfg.train.steps = 400
    with pytest.raises(ValueError, match=r"probe\.enabled"):
        train_ac(cfg)


def test_grad_accum_matches_one_big_batch_with_the_probe(reach_log, tiny_encoder, tmp_path):
    """Two micro-batches of 8 accumulate to the step one batch of 16 takes (predictor and
    probe alike): the loss curves and each logged term agree."""
    common = (
        "model.name=proprio_test",
        "train.steps=6",
        "train.log_every=1",
        "train.val_every=100",
    )
    runs = {}
    for accum in (1, 2):
        cfg = _cfg(
            reach_log,
            tiny_encoder,
            tmp_path / f"a{accum}",
            *common,
            f"train.grad_accum={accum}",
            recipe="configs/ac/tiny-reach.yaml",
        )
        runs[accum] = read_metrics(train_ac(cfg) / "metrics.jsonl")
    for a, b in zip(runs[1], runs[2]):
        for key in ("loss", "loss_tf", "loss_state", "loss_probe"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (key, a, b)


def test_encode_log_keeps_probe_tokens_at_their_own_grid(reach_log, tiny_encoder, tmp_path):
    """One encoding pass gives the predictor 4x4 pooled tokens of every frame and the probe
    the unpooled 8x8 ones of every 3rd frame; both come back from the cache unchanged, and
    asking for other probe frames re-encodes into a new cache file."""
    from vworld.data.logs import open_robot_log
    from vworld.encoders import encode_frames, load_encoder
    from vworld.layers.pooling import pool_tokens
    from vworld.train.features import encode_log

    enc = load_encoder(tiny_encoder)
    log_ = open_robot_log(reach_log)
    kw = {"probe_grid": (8, 8), "probe_every": 3, "show_progress": False}
    eps = encode_log(enc, log_, (8, 8), (4, 4), tmp_path, **kw)
    ep = log_.load_episode(1, frames=True)
    full = encode_frames(enc, torch.from_numpy(ep.frames)).half()
    assert eps[1].z.shape == (len(ep.frames), 16, enc.embed_dim)
    torch.testing.assert_close(eps[1].z_probe, full[::3])
    torch.testing.assert_close(
        pool_tokens(eps[1].z_probe.float(), (8, 8), (4, 4)),
        eps[1].z[::3].float(),
        atol=2e-3,
        rtol=0,
    )
    again = encode_log(enc, log_, (8, 8), (4, 4), tmp_path, **kw)
    assert torch.equal(again[1].z_probe, eps[1].z_probe)
    encode_log(enc, log_, (8, 8), (4, 4), tmp_path, **{**kw, "probe_every": 2})
    assert len(list(tmp_path.glob("features-*.pt"))) == 2
    with pytest.raises(ValueError, match="probe_every"):
        encode_log(enc, log_, (8, 8), (4, 4), None, probe_grid=(8, 8), probe_every=0)


def test_object_state_from_the_sim_state_and_read_back_by_the_probe(tiny_encoder, tmp_path):
    """configs/ac/tiny-push.yaml: the block's pose (sim-state columns 2-4) extends the pusher's
    state in training; the exported world model says which state dims come from images, and
    builds an observation's state from the sensed pusher state and the probe's reading."""
    import numpy as np

    from vworld.data.collect import CollectConfig, collect
    from vworld.data.logs import open_robot_log

    log_dir = collect(
        load_config(
            CollectConfig,
            overrides=[
                "env=vworld/Push-v0",
                f"out_dir={tmp_path / 'push'}",
                "episodes=6",
                "steps=40",
                "workers=0",
                "policy=scripted",
            ],
        )
    )
    extra = (
        "model.name=proprio_test",
        "train.steps=20",
        "train.val_every=20",
        "data.pool_grid=[4,4]",
    )
    cfg = _cfg(log_dir, tiny_encoder, tmp_path / "wm", *extra, recipe="configs/ac/tiny-push.yaml")
    out = train_ac(cfg)
    meta = json.loads((out / "world_model.json").read_text())
    assert meta["sim_state_dims"] == [2, 3, 4] and meta["predictor"]["kwargs"]["state_dim"] == 7
    assert meta["angle_dims"] == [6] and meta["probe"]["kwargs"]["dims"] == [0, 1, 4, 5, 6]
    # the normaliser saw the block's true positions (not zeros): its std is the block's spread
    ep = open_robot_log(log_dir).load_episode(0, frames=True)
    assert 0.0 < meta["stats"]["state_std"][4] < 1.0 and meta["stats"]["state_std"][6] == 1.0
    wm = load_world_model(out)
    assert wm.image_state_dims == [4, 5, 6]
    frames = torch.from_numpy(ep.frames[:1])[None]  # (1, 1, H, W, 3)
    proprio = torch.tensor(ep.states[:1])[None]  # (1, 1, 4): the pusher
    s = wm.observed_state(frames, proprio)
    assert s.shape == (1, 1, 7)
    torch.testing.assert_close(s[..., :4], proprio)
    torch.testing.assert_close(s[..., 4:], wm.read_state(frames)[..., 2:])
    assert np.isfinite(s.numpy()).all()

    def refused(*more: str) -> str:
        with pytest.raises(ValueError) as e:
            train_ac(
                _cfg(
                    log_dir,
                    tiny_encoder,
                    tmp_path / "bad",
                    *extra,
                    *more,
                    recipe="configs/ac/tiny-push.yaml",
                )
            )
        return str(e.value)

    assert "probe.dims=[0, 1] must cover them" in refused("probe.dims=[0,1]")
    assert "observation.sim_state of width" in refused("data.sim_state_dims=[2,99]")
    with pytest.raises(ValueError, match="action_mode=sum"):
        load_config(
            TrainACConfig,
            "configs/ac/tiny-push.yaml",
            ["encoder=e", "data.path=p", "out_dir=o", "data.action_mode=state_diff"],
        ).validate()
    # a check that needs no data fails when the recipe loads, naming the recipe
    with pytest.raises(ValueError, match=r"tiny-push\.yaml.*set probe\.enabled=true"):
        load_config(
            TrainACConfig,
            "configs/ac/tiny-push.yaml",
            ["encoder=e", "data.path=p", "out_dir=o", "probe.enabled=false"],
        )


def _latent_cfg(reach_log, tiny_encoder, out_dir, *extra):
    return _cfg(
        reach_log,
        tiny_encoder,
        out_dir,
        "model.name=latent_test",
        "data.pool_grid=[2,2]",
        "data.num_frames=4",
        "train.rollout_steps=3",
        "train.steps=120",
        "train.val_every=60",
        "optim.lr=2e-2",
        # a random test encoder's frames differ little: no smoothing, a strong regulariser
        "latent.smooth_weight=0",
        "latent.reg_weight=1.0",
        "model.proj_norm=none",  # so that a collapse shows in the latents' std
        *extra,
        recipe="configs/ac/tiny-reach-latent.yaml",
    )


def test_latent_model_trains_exports_and_plans_on_its_own_latents(
    reach_log, tiny_encoder, tmp_path
):
    out = train_ac(_latent_cfg(reach_log, tiny_encoder, tmp_path / "wm"))
    rows = read_metrics(out / "metrics.jsonl")
    assert rows[-1]["loss_tf"] < rows[0]["loss_tf"] or rows[-1]["loss"] < rows[0]["loss"]
    vals = [r for r in rows if "val_action_sensitivity" in r]
    assert vals and vals[-1]["val_action_sensitivity"] > 0.05, vals
    # without a regulariser, a projector trained through both sides of the loss collapses
    free = train_ac(
        _latent_cfg(reach_log, tiny_encoder, tmp_path / "free", "latent.regularizer=none")
    )
    free_vals = [r for r in read_metrics(free / "metrics.jsonl") if "val_latent_std" in r]
    assert vals[-1]["val_latent_std"] > 2 * free_vals[-1]["val_latent_std"], (vals, free_vals)
    meta = json.loads((out / "world_model.json").read_text())
    assert meta["action_mode"] == "concat"
    assert meta["predictor"]["kwargs"]["action_dim"] == 2 * meta["frame_stride"]
    assert "max_steps" not in meta["predictor"]["kwargs"]  # only what the model takes
    wm = load_world_model(out)
    assert wm.learned_latent
    z = wm.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    assert z.shape == (1, 1, 8)  # latent_test's latent_dim
    plans = torch.tensor([[[1.0, 1.0]] * 3, [[-1.0, -1.0]] * 3])
    z_r, s_r = wm.rollout(z, torch.zeros(1, 1, 4), plans)
    assert z_r.shape == (2, 3, 8) and s_r.shape == (2, 3, 4)
    assert (z_r[0, -1] - z_r[1, -1]).abs().mean() > 1e-3


def test_encoder_finetuning_updates_the_encoder_without_collapse(reach_log, tiny_encoder, tmp_path):
    from safetensors.torch import load_file

    out = train_ac(
        _latent_cfg(
            reach_log,
            tiny_encoder,
            tmp_path / "wm",
            "latent.finetune_encoder=true",
            "probe.enabled=false",
            "model.proj_norm=batch",  # LeWM's projector: latents start spread out
            "optim.lr=3e-3",
            "train.steps=60",
            "train.val_every=30",
            "train.log_every=10",
        )
    )
    before = load_file(str(tiny_encoder / "encoder.safetensors"))
    after = load_file(str(out / "encoder.safetensors"))
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) > len(before) // 2, changed  # the exported encoder is the trained one
    assert not (out / "cache").exists()  # frames are encoded at every step, never cached
    rows = read_metrics(out / "metrics.jsonl")
    reg = [r["loss_reg"] for r in rows if "loss_reg" in r]
    assert reg[-1] < 0.5 * reg[0], reg  # SIGReg pulls the latents towards N(0, I)
    vals = [r for r in rows if "val_latent_std" in r]
    assert vals[-1]["val_latent_std"] > 0.1 and vals[-1]["val_latent_rank"] > 1.5, vals


def test_an_encoder_built_from_scratch_trains_end_to_end_and_plans(reach_log, tmp_path):
    """``encoder=scratch:conv_test``: no pretraining run; the exported world model carries the
    trained encoder and its full spec, and loads and rolls out on its own."""
    out = train_ac(
        _latent_cfg(
            reach_log,
            "scratch:conv_test",
            tmp_path / "wm",
            "latent.finetune_encoder=true",
            "latent.encoder_lr_scale=1.0",
            "probe.enabled=false",
            "model.proj_norm=batch",
            "optim.lr=3e-3",
            "train.steps=40",
            "train.val_every=20",
            "train.log_every=10",
        )
    )
    spec = json.loads((out / "encoder.json").read_text())
    assert spec["model"] == "conv_test" and spec["kwargs"]["channels"] == [8, 16]
    torch.manual_seed(0)  # the recipe's seed: the encoder train-ac started from
    init = create_model("conv_test", **spec["kwargs"])
    wm = load_world_model(out)
    trained = dict(wm.encoder.named_parameters())
    moved = [k for k, p in init.named_parameters() if not torch.equal(p, trained[k])]
    assert len(moved) == len(trained), moved  # every weight trained
    vals = [r for r in read_metrics(out / "metrics.jsonl") if "val_latent_std" in r]
    assert vals[-1]["val_latent_std"] > 0.1 and vals[-1]["val_latent_rank"] > 1.5, vals
    z = wm.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    plans = torch.tensor([[[1.0, 1.0]] * 3, [[-1.0, -1.0]] * 3])
    z_r, _ = wm.rollout(z, torch.zeros(1, 1, 4), plans)
    assert z_r.shape == (2, 3, 8) and (z_r[0, -1] - z_r[1, -1]).abs().mean() > 1e-3


def test_latent_options_are_checked_before_any_data(tiny_encoder, tmp_path):
    base = ["data.path=/nonexistent", f"encoder={tiny_encoder}", f"out_dir={tmp_path}"]
    cases = [
        (["latent.regularizer=ema"], r"latent\.regularizer"),
        (["latent.finetune_encoder=true"], r"latent\.finetune_encoder"),
        (["latent.finetune_encoder=true", "probe.enabled=true"], r"probe\.enabled"),
        (["encoder=scratch:conv_test"], r"untrained encoder.*latent\.finetune_encoder=true"),
        (["encoder=scratch:conv_nope", "latent.finetune_encoder=true"], r"'conv_nope'"),
        # a setting of another predictor family names the key and the recipe that set it
        (["model.name=ac_test"], r"tiny-reach-latent\.yaml: model\.latent_dim: not a setting"),
        (["model.name=latent_nope"], r"model\.name"),
        (["data.action_mode=mean"], r"data\.action_mode"),
        (["latent.recon_weight=-1"], r"latent\.recon_weight"),
    ]
    for extra, match in cases:
        recipe = "configs/ac/tiny-reach-latent.yaml"
        if "latent.finetune_encoder=true" in extra and len(extra) == 1:  # a token-space model
            recipe = "configs/ac/tiny-reach-transformer.yaml"
        if "probe.enabled=true" in extra:
            recipe = "configs/ac/tiny-reach.yaml"
            extra = [*extra, "model.name=latent_micro"]
        with pytest.raises(ValueError, match=match):
            train_ac(load_config(TrainACConfig, recipe, [*base, *extra]))


def test_latent_model_resumes_with_its_objective(reach_log, tiny_encoder, tmp_path, monkeypatch):
    """The objective's own parameters (the grounding head) go into the checkpoint, so a killed
    run continues on the curve an uninterrupted one draws."""
    extra = ["train.steps=40", "train.log_every=5", "train.val_every=1000", "train.ckpt_every=20"]
    whole = train_ac(_latent_cfg(reach_log, tiny_encoder, tmp_path / "whole", *extra))
    want = [r["loss"] for r in read_metrics(whole / "metrics.jsonl")]
    got = _killed_then_resumed(
        monkeypatch, lambda: _latent_cfg(reach_log, tiny_encoder, tmp_path / "cut", *extra), 20
    )
    assert got == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_kept_steps_are_plannable_world_models_and_leave_training_alone(
    reach_log, tiny_encoder, tmp_path
):
    """``train.keep_every`` also writes a world model at each kept step (a learning curve can
    then be planned step by step) without touching the modules that go on training."""
    extra = ["train.steps=20", "train.log_every=5", "train.val_every=1000", "model.proj_norm=batch"]
    plain = train_ac(_latent_cfg(reach_log, tiny_encoder, tmp_path / "plain", *extra))
    kept = train_ac(
        _latent_cfg(reach_log, tiny_encoder, tmp_path / "kept", *extra, "train.keep_every=10")
    )
    losses = [[r["loss"] for r in read_metrics(run / "metrics.jsonl")] for run in (plain, kept)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5, abs=1e-6)
    assert sorted(p.name for p in (kept / "steps").iterdir()) == ["step_10"]
    z0 = torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8)
    plans = torch.tensor([[[1.0, 1.0]] * 3, [[-1.0, -1.0]] * 3])
    out = {}
    for name, run in (("plain", plain), ("end", kept), ("mid", kept / "steps" / "step_10")):
        wm = load_world_model(run)
        out[name] = wm.rollout(wm.encode(z0), torch.zeros(1, 1, 4), plans)[0]
    torch.testing.assert_close(out["end"], out["plain"], atol=1e-5, rtol=1e-5)
    assert (out["mid"] - out["end"]).abs().max() > 1e-4  # the step-10 weights, not the last


def test_batchnorm_statistics_are_recomputed_at_the_current_weights(
    reach_log, tiny_encoder, tmp_path
):
    """The projector's BatchNorm running statistics, however stale, become the mean over the
    given batches: the latents of those frames come out centred on BatchNorm's own shift."""
    from vworld.data.logs import open_robot_log
    from vworld.train.latent_objective import recalibrate_batchnorm

    extra = ["train.steps=10", "train.val_every=1000", "model.proj_norm=batch"]
    wm = load_world_model(train_ac(_latent_cfg(reach_log, tiny_encoder, tmp_path / "r", *extra)))
    bn = wm.predictor.projector.norm
    weights = {
        k: v.clone()
        for k, v in wm.state_dict().items()
        if "running" not in k and "num_batches" not in k
    }
    log = open_robot_log(reach_log)
    frames = [torch.from_numpy(log.load_episode(e).frames)[None] for e in range(log.num_episodes)]
    modes = [m.training for m in wm.modules()]
    bn.running_mean += 5.0  # stale: as if the weights had moved on since
    assert recalibrate_batchnorm(wm, iter(frames)) == 1
    z = torch.cat([wm.encode(f)[0] for f in frames])
    torch.testing.assert_close(z.mean(0), bn.bias, atol=1e-3, rtol=0)
    assert [m.training for m in wm.modules()] == modes and bn.momentum == 0.1
    for k, v in wm.state_dict().items():
        if k in weights:
            torch.testing.assert_close(v, weights[k])
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_batchnorm(wm, [])


def test_token_reconstruction_term_trains_and_stays_out_of_the_world_model(
    reach_log, tiny_encoder, tmp_path
):
    """``latent.recon_weight``: a decoder rebuilds the frame's tokens from its latent; its loss
    is logged and falls, and the decoder, a training aid, is not part of the exported model."""
    from safetensors.torch import load_file

    extra = ["latent.recon_weight=1.0", "train.steps=60", "train.log_every=5"]
    out = train_ac(_latent_cfg(reach_log, tiny_encoder, tmp_path / "rec", *extra))
    rows = [r for r in read_metrics(out / "metrics.jsonl") if "loss_recon" in r]
    assert len(rows) > 2 and rows[-1]["loss_recon"] < rows[0]["loss_recon"], rows
    assert not any("recon" in k for k in load_file(out / "predictor.safetensors"))
    plain = train_ac(_latent_cfg(reach_log, tiny_encoder, tmp_path / "plain", "train.steps=5"))
    assert not any("loss_recon" in r for r in read_metrics(plain / "metrics.jsonl"))
    z = load_world_model(out).encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    assert z.shape == (1, 1, 8)  # the latent alone
