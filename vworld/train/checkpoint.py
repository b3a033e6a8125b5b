"""Atomic, code-free checkpoints and resuming.

A checkpoint is a ``torch.save`` of plain tensors, numbers, strings, lists and dicts, so it
loads with ``torch.load(weights_only=True)``: no pickled code is ever executed. It is written
to a temporary name in the same folder, flushed, then renamed over the old one, so a run
killed at any moment leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vworld.files import UnsafeCheckpointError, atomic_path, load_tensors

__all__ = [
    "CheckpointError",
    "atomic_save",
    "get_rng_state",
    "latest_checkpoint",
    "load_checkpoint",
    "save_training_checkpoint",
    "set_rng_state",
]

LAST = "last.pt"
_STEP_RE = re.compile(r"step_(\d+)\.pt$")


class CheckpointError(RuntimeError):
    pass


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint without executing code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        obj = load_tensors(path, map_location=map_location)
    except UnsafeCheckpointError as e:
        raise CheckpointError(f"cannot load checkpoint safely: {e}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict checkpoint, got {type(obj).__name__}")
    return obj


def latest_checkpoint(ckpt_dir: str | os.PathLike) -> Path | None:
    """``last.pt`` if present, else the highest ``step_N.pt``, else None."""
    d = Path(ckpt_dir)
    if (d / LAST).is_file():
        return d / LAST
    steps = sorted(
        (int(m.group(1)), p) for p in d.glob("step_*.pt") if (m := _STEP_RE.search(p.name))
    )
    return steps[-1][1] if steps else None


def save_training_checkpoint(
    state: dict, ckpt_dir: str | os.PathLike, step: int, keep_every: int = 0
) -> Path:
    """Write ``last.pt`` and, every ``keep_every`` steps, a kept ``step_N.pt``."""
    d = Path(ckpt_dir)
    last = atomic_save(state, d / LAST)
    if keep_every > 0 and step % keep_every == 0:
        atomic_save(state, d / f"step_{step:08d}.pt")
    return last


def get_rng_state() -> dict:
    """Torch (CPU and CUDA), NumPy and Python RNG states, as tensors and plain values."""
    np_state = np.random.get_state()  # noqa: NPY002 - saving the global RNG is the point
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "numpy_gauss": [int(np_state[3]), float(np_state[4])],
        "python": repr(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    has_gauss, cached = state.get("numpy_gauss", [0, 0.0])
    np.random.set_state(("MT19937", keys, state["numpy_pos"], has_gauss, cached))  # noqa: NPY002
    py = state.get("python")
    if py:
        import ast

        version, internal, gauss = ast.literal_eval(py)
        random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
