import numpy as np
import pytest
import torch

from vworld.train.checkpoint import (
    CheckpointError,
    atomic_save,
    get_rng_state,
    latest_checkpoint,
    load_checkpoint,
    save_training_checkpoint,
    set_rng_state,
)


def test_atomic_save_roundtrip_and_no_temp_left(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 7, "name": "x", "opt": {"lr": [0.1]}}
    atomic_save(state, tmp_path / "a.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]
    back = load_checkpoint(tmp_path / "a.pt")
    assert torch.equal(back["w"], state["w"]) and back["step"] == 7


def test_loading_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="safely"):
        load_checkpoint(tmp_path / "evil.pt")


def test_keep_every_and_latest(tmp_path):
    for step in (5, 10, 15, 20):
        save_training_checkpoint({"step": step}, tmp_path, step, keep_every=10)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["last.pt", "step_00000010.pt", "step_00000020.pt"]
    assert latest_checkpoint(tmp_path).name == "last.pt"
    assert load_checkpoint(latest_checkpoint(tmp_path))["step"] == 20


def test_rng_state_roundtrip(tmp_path):
    torch.manual_seed(3)
    np.random.seed(3)
    state = get_rng_state()
    atomic_save({"rng": state}, tmp_path / "r.pt")
    a = (torch.rand(3), np.random.rand(3))
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


class _NotATensor:
    """A class torch.load(weights_only=True) refuses to rebuild."""


def test_a_checkpoint_that_needs_pickled_code_is_refused_by_name(tmp_path):
    from vworld.encoders import load_encoder
    from vworld.files import UnsafeCheckpointError

    path = tmp_path / "official.pt"
    torch.save({"target_encoder": _NotATensor()}, path)
    with pytest.raises(UnsafeCheckpointError, match="weights_only=True") as err:
        load_encoder(path)
    assert str(path) in str(err.value)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        load_checkpoint(path)


def test_atomic_writes_leave_the_old_file_when_the_writer_fails(tmp_path):
    from vworld.files import atomic_path, atomic_write_text

    path = atomic_write_text(tmp_path / "a" / "meta.json", "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert sorted(p.name for p in path.parent.iterdir()) == ["meta.json"]  # no temporary left
    atomic_write_text(path, "new")
    assert path.read_text() == "new"


def test_kept_steps_off_the_checkpoint_interval_are_kept(tmp_path):
    """keep_every=15 with ckpt_every=10 keeps step 15, which no ckpt_every save writes."""
    from vworld.train.ac_config import TrainACConfig
    from vworld.train.runtime import make_accelerator, maybe_checkpoint

    cfg = TrainACConfig(out_dir=str(tmp_path))
    cfg.train.steps, cfg.train.ckpt_every, cfg.train.keep_every = 30, 10, 15
    acc = make_accelerator("cpu")
    for done in range(1, 31):
        maybe_checkpoint(acc, cfg, done, lambda d=done: {"done": d})
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["last.pt", "step_00000015.pt", "step_00000030.pt"]
    assert load_checkpoint(tmp_path / "checkpoints" / "step_00000015.pt")["done"] == 15
