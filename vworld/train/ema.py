"""Exponential moving average of a model's parameters: the JEPA target encoder.

The target gets no gradient; after each optimizer step its weights move towards the
context encoder's, ``target = m * target + (1 - m) * online`` with m close to 1 (V-JEPA 2:
0.99925). This asymmetry is what keeps the features from collapsing to a constant.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ema_update", "make_target"]


def make_target(model: nn.Module) -> nn.Module:
    """A frozen deep copy of ``model`` (no gradient, eval mode for dropout/drop-path)."""
    target = copy.deepcopy(model)
    for p in target.parameters():
        p.requires_grad_(False)
    target.eval()
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``target <- momentum * target + (1 - momentum) * online``, for parameters and buffers."""
    t_params = list(target.parameters())
    o_params = [p.detach() for p in online.parameters()]
    if len(t_params) != len(o_params):
        raise ValueError("target and online models have different parameter lists")
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, o_params, alpha=1.0 - momentum)
    for tb, ob in zip(target.buffers(), online.buffers()):
        tb.copy_(ob)
