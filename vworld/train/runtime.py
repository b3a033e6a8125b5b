"""What every trainer shares: the accelerator, batch splitting, optimizer groups, seeds."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from torch import nn
from tqdm.auto import tqdm

__all__ = [
    "OptimConfig",
    "apply_schedules",
    "batch_split",
    "check_loss",
    "make_accelerator",
    "maybe_checkpoint",
    "param_groups",
    "progress_bar",
    "resume_state",
    "set_optim_hparams",
    "step_seed",
]

log = logging.getLogger("vworld.train")


@dataclass
class OptimConfig:
    """AdamW with a warmup, then cosine, warmup-stable-decay or constant learning rate."""

    lr: float = 5.25e-4
    start_lr: float = 1.0e-4
    final_lr: float = 1.0e-6
    warmup_steps: int = 40
    schedule: str = "cosine"  # cosine | wsd | constant
    decay_steps: int = 0  # wsd: length of the final linear decay
    weight_decay: float = 0.04
    final_weight_decay: float = 0.04
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1.0e-8
    grad_clip: float = 0.0  # max global grad norm; 0 disables

    def make(
        self, model: nn.Module, scaled: tuple[nn.Module, float] | None = None
    ) -> torch.optim.AdamW:
        """AdamW over ``model``'s trainable parameters; ``scaled = (submodule, s)`` gives that
        submodule's parameters ``s`` times the scheduled learning rate."""
        groups = param_groups(model, exclude=scaled[0] if scaled else None)
        if scaled is not None:
            groups += [{**g, "lr_scale": scaled[1]} for g in param_groups(scaled[0])]
        return torch.optim.AdamW(groups, lr=self.lr, betas=tuple(self.betas), eps=self.eps)


def apply_schedules(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, step: int, total: int
) -> tuple[float, float]:
    """Set this step's learning rate and weight decay on ``optimizer``; returns them."""
    from vworld.train.schedules import lr_at, wd_at

    lr = lr_at(
        step,
        total,
        cfg.lr,
        cfg.warmup_steps,
        cfg.start_lr,
        cfg.final_lr,
        cfg.schedule,
        cfg.decay_steps,
    )
    wd = wd_at(step, total, cfg.weight_decay, cfg.final_weight_decay)
    set_optim_hparams(optimizer, lr, wd)
    return lr, wd


def resume_state(out_dir: Path, resume: bool) -> dict | None:
    """The last checkpoint of ``out_dir`` (RNG restored), or None to start afresh."""
    from vworld.train.checkpoint import latest_checkpoint, load_checkpoint, set_rng_state

    path = latest_checkpoint(out_dir / "checkpoints") if resume else None
    if path is None:
        return None
    state = load_checkpoint(path)
    set_rng_state(state["rng"])
    log.info("resuming from %s at step %d", path, int(state["step"]))
    return state


def maybe_checkpoint(acc: Accelerator, cfg: Any, done: int, modules: Callable[[], dict]) -> None:
    """Every ``cfg.train.ckpt_every`` steps and at the end, save ``checkpoints/last.pt``.

    Every ``cfg.train.keep_every`` steps (when set) the checkpoint is written and kept as
    ``step_N.pt`` too, whether or not the step falls on ``ckpt_every``.

    Args:
        cfg: the run config (``out_dir`` and ``train.steps/ckpt_every/keep_every``), also saved
            in the checkpoint.
        modules: returns the state dicts to save (called on the main process only).
    """
    t = cfg.train
    kept = t.keep_every > 0 and done % t.keep_every == 0
    if done % t.ckpt_every and done != t.steps and not kept:
        return
    from vworld.train.checkpoint import get_rng_state, save_training_checkpoint

    acc.wait_for_everyone()
    if acc.is_main_process:
        state = {
            "step": done,
            **modules(),
            "rng": get_rng_state(),
            "config": json.dumps(dataclasses.asdict(cfg)),
        }
        save_training_checkpoint(state, Path(cfg.out_dir) / "checkpoints", done, t.keep_every)
    acc.wait_for_everyone()


def check_loss(value: float, step: int) -> None:
    if not math.isfinite(value):
        raise FloatingPointError(f"loss is {value} at step {step}; lower optim.lr?")


def make_accelerator(device: str = "auto", precision: str = "auto") -> Accelerator:
    """An ``Accelerator`` for CPU, one GPU or a ``accelerate launch`` group.

    Args:
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        precision: ``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or ``bf16``.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device: '{device}', expected auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda but no CUDA device is available")
    cpu = device == "cpu" or not torch.cuda.is_available()
    if precision == "auto":
        mixed = "no" if cpu else "bf16"
    elif precision == "bf16":
        mixed = "bf16"
    else:
        mixed = "no"
    return Accelerator(cpu=cpu, mixed_precision=mixed)


def batch_split(global_batch: int, world_size: int, grad_accum: int) -> int:
    """Clips per process per micro-step; the global batch must split evenly."""
    denom = world_size * grad_accum
    if grad_accum < 1 or global_batch % denom:
        raise ValueError(
            f"train.batch_size={global_batch} must be a multiple of processes ({world_size}) "
            f"x train.grad_accum ({grad_accum})"
        )
    return global_batch // denom


def param_groups(model: nn.Module, exclude: nn.Module | None = None) -> list[dict]:
    """AdamW groups: weight decay on matrices, none on biases, norms and 1-D tokens.

    ``exclude``: a submodule whose parameters are left out (given their own groups)."""
    skip = {id(p) for p in exclude.parameters()} if exclude is not None else set()
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad or id(p) in skip:
            continue
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [
        {"params": decay, "wd_exclude": False},
        {"params": no_decay, "wd_exclude": True, "weight_decay": 0.0},
    ]


def set_optim_hparams(optimizer: torch.optim.Optimizer, lr: float, wd: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)
        if not g.get("wd_exclude", False):
            g["weight_decay"] = wd


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    """A 63-bit seed that depends only on (seed, step, stream), for resumable randomness."""
    x = seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + stream * 0x94D049BB133111EB
    x &= (1 << 64) - 1
    x ^= x >> 31
    return x & ((1 << 63) - 1)


def progress_bar(total: int, initial: int, desc: str, disable: bool = False) -> tqdm:
    return tqdm(total=total, initial=initial, desc=desc, disable=disable, dynamic_ncols=True)
