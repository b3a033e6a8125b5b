"""Multi-process training through `accelerate launch --num_processes 2 --cpu` (gloo).

The global batch is split over processes, masks and samples are drawn from (seed, step), so
the two-process loss curve must match the one-process curve with the same global batch. A
two-process checkpoint must resume in one process.
"""

import os
import subprocess
import sys

import pytest

from vworld.config import load_config
from vworld.data.synthetic import make_synthetic_videos
from vworld.train.monitor import read_metrics
from vworld.train.pretrain import PretrainConfig, pretrain
from vworld.train.train_ac import TrainACConfig, train_ac

# gloo sums gradients in another order than one process does: equal up to float rounding
RTOL = 1e-4


def _launch(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VWORLD_LOG": "WARNING"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu"]
    cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    subprocess.run([*cmd, "-m", "vworld.cli", *args], check=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    make_synthetic_videos(d, num_videos=6, frames=24, size=64, seed=0)
    return d


def _pre_args(videos, out, steps):
    return [
        f"data.path={videos}",
        f"out_dir={out}",
        f"train.steps={steps}",
        "train.batch_size=4",
        "train.log_every=1",
        "train.ckpt_every=3",
        "data.num_workers=0",
        "model.encoder=vit_test",
        "model.predictor=predictor_test",
        "optim.warmup_steps=2",
        "optim.schedule=constant",
        "objective.ema_end=0.996",
    ]


def test_pretrain_two_processes_match_one_and_resume_in_one(videos, tmp_path):
    recipe = "configs/pretrain/tiny-64px-8f.yaml"
    one = pretrain(load_config(PretrainConfig, recipe, _pre_args(videos, tmp_path / "one", 6)))
    want = [r["loss"] for r in read_metrics(one / "metrics.jsonl")]

    _launch("pretrain", "-c", recipe, *_pre_args(videos, tmp_path / "two", 6))
    got = [r["loss"] for r in read_metrics(tmp_path / "two" / "metrics.jsonl")]
    assert got == pytest.approx(want, rel=RTOL)

    # three steps on two processes, then three more on one: the same curve
    _launch("pretrain", "-c", recipe, *_pre_args(videos, tmp_path / "mixed", 3))
    pretrain(load_config(PretrainConfig, recipe, _pre_args(videos, tmp_path / "mixed", 6)))
    mixed = [r["loss"] for r in read_metrics(tmp_path / "mixed" / "metrics.jsonl")]
    assert mixed == pytest.approx(want, rel=RTOL)


def test_train_ac_two_processes_match_one(reach_log, tiny_encoder, tmp_path):
    args = [
        f"encoder={tiny_encoder}",
        f"data.path={reach_log}",
        "model.name=ac_test",
        "data.pool_grid=null",
        "train.steps=4",
        "train.batch_size=8",
        "train.log_every=1",
        "train.val_every=1000",
        "optim.warmup_steps=2",
    ]
    recipe = "configs/ac/tiny-reach.yaml"
    one = train_ac(load_config(TrainACConfig, recipe, [*args, f"out_dir={tmp_path / 'one'}"]))
    want = [r["loss"] for r in read_metrics(one / "metrics.jsonl")]
    _launch("train-ac", "-c", recipe, *args, f"out_dir={tmp_path / 'two'}")
    got = [r["loss"] for r in read_metrics(tmp_path / "two" / "metrics.jsonl")]
    assert len(got) == 4
    assert got == pytest.approx(want, rel=RTOL)
