"""Average pooling of a frame's patch tokens to a coarser grid (cheap planning latents)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["pool_tokens"]


def pool_tokens(z: Tensor, grid: tuple[int, int], pool_grid: tuple[int, int] | None) -> Tensor:
    """Average-pool each frame's tokens from ``grid`` to ``pool_grid`` (adaptive pooling).

    Use the same call on the prediction targets as the predictor uses on its inputs.

    Args:
        z: frame tokens ``(..., h*w, D)``, row-major (height, then width).
        grid: the token grid ``(h, w)`` of one frame.
        pool_grid: the output grid ``(h', w')``; ``None`` returns ``z`` unchanged.

    Returns:
        ``(..., h'*w', D)``.
    """
    if pool_grid is None or tuple(pool_grid) == tuple(grid):
        return z
    h, w = grid
    ph, pw = pool_grid
    if z.shape[-2] != h * w:
        raise ValueError(
            f"pool_tokens: z has {z.shape[-2]} tokens per frame, expected grid {h}x{w} = {h * w}"
        )
    lead, dim = z.shape[:-2], z.shape[-1]
    x = z.reshape(-1, h, w, dim).permute(0, 3, 1, 2)  # (M, D, h, w)
    x = F.adaptive_avg_pool2d(x, (ph, pw))  # (M, D, h', w')
    return x.flatten(2).transpose(1, 2).reshape(*lead, ph * pw, dim)  # (..., h'*w', D)
