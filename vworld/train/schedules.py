"""Learning-rate, weight-decay and EMA-momentum schedules as pure functions of the step.

V-JEPA 2 warms the learning rate up linearly, then holds it (warmup-stable-decay, used for
its long runs and cooldown) or follows a cosine; weight decay follows a cosine between two
values and the target encoder's momentum is constant or ramped linearly. Being functions of
the step (no hidden state), they resume exactly from a checkpoint's step count.
"""

from __future__ import annotations

import math

__all__ = ["cosine_schedule", "linear_ramp", "lr_at", "momentum_at", "wd_at"]


def cosine_schedule(step: int, total: int, start: float, end: float) -> float:
    """Half-cosine from ``start`` at step 0 to ``end`` at ``total``, then ``end``."""
    if total <= 0:
        return end
    p = min(max(step / total, 0.0), 1.0)
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * p))


def linear_ramp(step: int, total: int, start: float, end: float) -> float:
    if total <= 0:
        return end
    p = min(max(step / total, 0.0), 1.0)
    return start + p * (end - start)


def lr_at(
    step: int,
    total_steps: int,
    lr: float,
    warmup_steps: int,
    start_lr: float,
    final_lr: float,
    kind: str = "cosine",
    decay_steps: int = 0,
) -> float:
    """Learning rate at ``step`` (0-based).

    Args:
        kind: ``"cosine"`` (warmup then cosine to ``final_lr``), ``"wsd"`` (warmup, stable,
            then linear decay to ``final_lr`` over the last ``decay_steps``) or ``"constant"``
            (warmup then ``lr``).
    """
    if step < warmup_steps:
        return linear_ramp(step, warmup_steps, start_lr, lr)
    if kind == "cosine":
        return cosine_schedule(step - warmup_steps, total_steps - warmup_steps, lr, final_lr)
    if kind == "wsd":
        decay_start = total_steps - decay_steps
        if step < decay_start:
            return lr
        return linear_ramp(step - decay_start, decay_steps, lr, final_lr)
    if kind == "constant":
        return lr
    raise ValueError(f"unknown lr schedule '{kind}', expected cosine, wsd or constant")


def wd_at(step: int, total_steps: int, weight_decay: float, final_weight_decay: float) -> float:
    return cosine_schedule(step, total_steps, weight_decay, final_weight_decay)


def momentum_at(step: int, total_steps: int, start: float, end: float) -> float:
    """EMA momentum: constant when ``start == end``, else a linear ramp over training."""
    return linear_ramp(step, total_steps, start, end)
