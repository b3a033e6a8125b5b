"""Token positions on a (time, height, width) grid and the 3D sin-cos table of V-JEPA 1.

Follows V-JEPA (Bardes et al., 2024), ``get_3d_sincos_pos_embed``: the embedding is the
concatenation ``[time | height | width]`` of 1D tables, each ``[sin | cos]`` of
``pos * 10000 ** (-j / (d / 2))``. By default time gets ``D / 2`` channels and height and width
``D / 4`` each; with ``uniform_power=True`` each axis gets ``2 * ceil(D / 6)`` channels and the
result is cut to ``D``.

Public API:

- ``grid_positions(ids, grid) -> (..., K, 3)`` float (t, h, w) of flat token indices.
- ``sincos_1d(dim, pos) -> (M, dim)``.
- ``sincos_3d(embed_dim, grid, uniform_power=False) -> (t*h*w, embed_dim)`` fp32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def grid_positions(ids: Tensor, grid: tuple[int, int, int]) -> Tensor:
    """(time, height, width) positions of flat token indices in time-major order.

    Args:
        ids: integer tensor of any shape with indices in ``[0, t*h*w)``.
        grid: token grid ``(t, h, w)``.

    Returns:
        float32 tensor ``ids.shape + (3,)``.
    """
    _, h, w = grid
    t_idx = torch.div(ids, h * w, rounding_mode="floor")
    rem = ids - t_idx * (h * w)
    h_idx = torch.div(rem, w, rounding_mode="floor")
    w_idx = rem - h_idx * w
    return torch.stack((t_idx, h_idx, w_idx), dim=-1).float()


def full_grid_positions(grid: tuple[int, int, int], device: torch.device | None = None) -> Tensor:
    """Positions ``(t*h*w, 3)`` of every token of the grid, time-major.

    Args:
        grid: token grid ``(t, h, w)``.
        device: device of the result.
    """
    t, h, w = grid
    return grid_positions(torch.arange(t * h * w, device=device), grid)


def sincos_1d(dim: int, pos: Tensor) -> Tensor:
    """1D sin-cos table ``[sin | cos]`` in float64.

    Args:
        dim: even number of output channels.
        pos: ``(M,)`` positions.
    """
    if dim % 2:
        raise ValueError(f"sincos dim must be even, got {dim}")
    omega = torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0)
    omega = 1.0 / 10000**omega  # (dim/2,)
    out = pos.double().reshape(-1, 1) * omega  # (M, dim/2)
    return torch.cat((out.sin(), out.cos()), dim=1)  # (M, dim)


def sincos_3d(embed_dim: int, grid: tuple[int, int, int], uniform_power: bool = False) -> Tensor:
    """3D sin-cos position table for a ``(t, h, w)`` token grid, rows in time-major order.

    Args:
        embed_dim: channels of the table (divisible by 4, or by 2 with ``uniform_power``).
        grid: token grid ``(t, h, w)``.
        uniform_power: give time, height and width the same number of channels.

    Returns:
        float32 ``(t*h*w, embed_dim)``.
    """
    pos = full_grid_positions(grid).double()  # (N, 3)
    if uniform_power:
        d_dim = h_dim = w_dim = int(math.ceil(embed_dim / 6) * 2)
    else:
        d_dim, h_dim, w_dim = embed_dim // 2, embed_dim // 4, embed_dim // 4
    table = torch.cat(
        (sincos_1d(d_dim, pos[:, 0]), sincos_1d(h_dim, pos[:, 1]), sincos_1d(w_dim, pos[:, 2])),
        dim=1,
    )[:, :embed_dim]
    if table.shape[1] != embed_dim:
        raise ValueError(
            f"embed_dim={embed_dim} must be divisible by 4 "
            "for a 3D sin-cos table (or use uniform_power=True)"
        )
    return table.float()
