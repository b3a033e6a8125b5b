"""Angles on the circle: the one wrap every model, loss and cost uses."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["wrap_angles"]


def wrap_angles(x: Tensor, dims: Sequence[int]) -> Tensor:
    """``x`` with its last-axis entries ``dims`` taken modulo 2 pi into [-pi, pi)."""
    if not dims:
        return x
    x = x.clone()
    x[..., list(dims)] = torch.remainder(x[..., list(dims)] + math.pi, 2.0 * math.pi) - math.pi
    return x
