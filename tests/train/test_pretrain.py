"""End-to-end V-JEPA pretraining on real generated mp4s, on the CPU, with a tiny model."""

import json

import pytest

from vworld.config import load_config
from vworld.data.synthetic import make_synthetic_videos
from vworld.train import checkpoint as ckpt_mod
from vworld.train.monitor import read_metrics
from vworld.train.pretrain import PretrainConfig, pretrain


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    make_synthetic_videos(d, num_videos=6, frames=24, size=64, seed=0)
    return d


def _cfg(video_dir, out_dir, *extra):
    return load_config(
        PretrainConfig,
        "configs/pretrain/tiny-64px-8f.yaml",
        [
            f"data.path={video_dir}",
            f"out_dir={out_dir}",
            "data.num_workers=0",
            "model.encoder=vit_test",
            "model.predictor=predictor_test",
            "train.batch_size=4",
            "train.log_every=1",
            "optim.warmup_steps=2",
            *extra,
        ],
    )


def test_loss_falls_and_metrics_are_logged(video_dir, tmp_path):
    cfg = _cfg(video_dir, tmp_path / "run", "train.steps=30", "train.ckpt_every=10")
    out = pretrain(cfg)
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 31))
    for key in ("loss", "lr", "clips_per_s", "feat_std", "feat_rank", "skipped_videos"):
        assert key in rows[0]
    first = sum(r["loss"] for r in rows[:5]) / 5
    last = sum(r["loss"] for r in rows[-5:]) / 5
    assert last < 0.9 * first, (first, last)
    assert rows[-1]["feat_std"] > 0.05  # no collapse
    assert (out / "config.yaml").exists() and (out / "encoder.safetensors").exists()
    assert (out / "checkpoints" / "last.pt").exists()


def test_resume_continues_the_same_curve(video_dir, tmp_path, monkeypatch):
    steps = ["train.steps=8", "train.ckpt_every=4"]
    full = pretrain(_cfg(video_dir, tmp_path / "full", *steps))
    want = [r["loss"] for r in read_metrics(full / "metrics.jsonl")]

    real_save = ckpt_mod.save_training_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(state, ckpt_dir, step, keep_every=0):
        path = real_save(state, ckpt_dir, step, keep_every)
        if step == 4:
            raise Killed
        return path

    monkeypatch.setattr(ckpt_mod, "save_training_checkpoint", save_then_die)
    with pytest.raises(Killed):
        pretrain(_cfg(video_dir, tmp_path / "cut", *steps))
    monkeypatch.setattr(ckpt_mod, "save_training_checkpoint", real_save)
    resumed = pretrain(_cfg(video_dir, tmp_path / "cut", *steps))
    got = [r["loss"] for r in read_metrics(resumed / "metrics.jsonl")]
    assert len(got) == 8
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)

    fresh = pretrain(_cfg(video_dir, tmp_path / "cut", *steps, "resume=false"))
    assert len(read_metrics(fresh / "metrics.jsonl")) == 8


def test_corrupt_video_is_skipped_and_counted(video_dir, tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    for p in sorted(video_dir.glob("*.mp4"))[:3]:
        (d / p.name).write_bytes(p.read_bytes())
    (d / "corrupt.mp4").write_bytes(b"\x00garbage" * 100)
    cfg = _cfg(d, tmp_path / "run", "train.steps=2")
    with pytest.warns(UserWarning, match="corrupt.mp4"):
        out = pretrain(cfg)
    assert read_metrics(out / "metrics.jsonl")[-1]["skipped_videos"] == 1


def test_sigreg_objective_runs_without_target(video_dir, tmp_path):
    out = pretrain(_cfg(video_dir, tmp_path / "sig", "train.steps=3", "objective.kind=sigreg"))
    rows = read_metrics(out / "metrics.jsonl")
    assert all(r["loss"] == r["loss"] for r in rows)  # finite
    cfg = json.loads(json.dumps(rows[-1]))
    assert cfg["feat_std"] > 0
