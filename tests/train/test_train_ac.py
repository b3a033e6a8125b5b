"""The action-conditioned trainer on a real collected MuJoCo dataset, on the CPU."""

import json

import pytest
import torch

from vworld.config import load_config
from vworld.train.monitor import read_metrics
from vworld.train.train_ac import TrainACConfig, aggregate, train_ac
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


def test_aggregate_sum_and_state_diff():
    import numpy as np

    actions = np.arange(20, dtype=np.float32).reshape(10, 2)
    states = np.arange(30, dtype=np.float32).reshape(10, 3) ** 2
    frames = np.array([0, 3, 6])
    summed = aggregate(actions, states, frames, "sum")
    assert summed.tolist() == [actions[0:3].sum(0).tolist(), actions[3:6].sum(0).tolist()]
    diff = aggregate(actions, states, frames, "state_diff")
    assert diff.tolist() == [(states[3] - states[0]).tolist(), (states[6] - states[3]).tolist()]


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


def test_features_cached_and_run_resumes(reach_log, tiny_encoder, tmp_path, monkeypatch):
    from vworld.train import checkpoint as mod

    steps = ["train.steps=6", "train.ckpt_every=3", "train.log_every=1", "train.val_every=100"]
    full = train_ac(_cfg(reach_log, tiny_encoder, tmp_path / "full", *steps))
    want = [r["loss"] for r in read_metrics(full / "metrics.jsonl")]
    assert len(list((full / "cache").glob("features-*.pt"))) == 1

    real = mod.save_training_checkpoint

    class Killed(Exception):
        pass

    def die_at_3(state, d, step, keep_every=0):
        real(state, d, step, keep_every)
        if step == 3:
            raise Killed

    monkeypatch.setattr(mod, "save_training_checkpoint", die_at_3)
    with pytest.raises(Killed):
        train_ac(_cfg(reach_log, tiny_encoder, tmp_path / "cut", *steps))
    monkeypatch.setattr(mod, "save_training_checkpoint", real)
    got = [
        r["loss"]
        for r in read_metrics(
            train_ac(_cfg(reach_log, tiny_encoder, tmp_path / "cut", *steps)) / "metrics.jsonl"
        )
    ]
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_windows_gather_matches_per_episode_aggregation():
    import numpy as np

    from vworld.train.features import EncodedEpisode
    from vworld.train.train_ac import ACWindows

    rng = np.random.default_rng(0)
    eps = [
        EncodedEpisode(
            torch.randn(n, 3, 2).half(),
            rng.normal(size=(n, 2)).astype(np.float32),
            rng.normal(size=(n, 4)).astype(np.float32),
            i,
        )
        for i, n in enumerate([30, 17, 40])
    ]
    for mode in ("sum", "state_diff"):
        w = ACWindows(eps, 4, 5, mode)
        z, a, s = w.get(torch.arange(len(w)))
        k = 0
        for ep in eps:
            for start in range(len(ep.actions) - 15):
                fr = start + 5 * np.arange(4)
                torch.testing.assert_close(z[k], ep.z[fr].float())
                np.testing.assert_allclose(s[k], ep.states[fr])
                np.testing.assert_allclose(
                    a[k], aggregate(ep.actions, ep.states, fr, mode), atol=1e-5
                )
                k += 1
        assert k == len(w)  # no window crosses an episode boundary


def test_proprio_model_learns_action_dependent_latents(reach_log, tiny_encoder, tmp_path):
    cfg = _cfg(
        reach_log,
        tiny_encoder,
        tmp_path / "wm",
        "model.name=proprio_test",
        "model.predictor_embed_dim=64",
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
    assert wm.infer_state(z).shape == (1, 1, 2)
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
