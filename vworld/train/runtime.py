"""What every trainer shares: the accelerator, batch splitting, optimizer groups, seeds."""

from __future__ import annotations

import logging

import torch
from accelerate import Accelerator
from torch import nn
from tqdm.auto import tqdm

__all__ = [
    "batch_split",
    "make_accelerator",
    "param_groups",
    "progress_bar",
    "set_optim_hparams",
    "step_seed",
]

log = logging.getLogger("vworld.train")


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


def param_groups(model: nn.Module) -> list[dict]:
    """AdamW groups: weight decay on matrices, none on biases, norms and 1-D tokens."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
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
