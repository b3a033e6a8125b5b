"""Tubelet patch embedding (Conv3d over ``(t, p, p)``) and token gathering, as in V-JEPA.

Public API:

- ``PatchEmbed3D(patch_size=16, tubelet_size=2, in_chans=3, embed_dim=768)``:
  ``(B, C, T, H, W) -> (B, N, D)`` with ``N = T/t * H/p * W/p`` in time-major order.
  Parameter name ``proj`` matches the official checkpoints.
- ``gather_tokens(x, ids) -> (B, K, D)``: keep the tokens ``ids: (B, K)`` of ``x: (B, N, D)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def gather_tokens(x: Tensor, ids: Tensor) -> Tensor:
    """Select tokens by index per sample.

    Args:
        x: ``(B, N, D)`` tokens.
        ids: ``(B, K)`` integer indices into ``N``.
    """
    if ids.ndim != 2 or ids.shape[0] != x.shape[0]:
        raise ValueError(f"token indices must be (B={x.shape[0]}, K), got {tuple(ids.shape)}")
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # (B, K, D)


class PatchEmbed3D(nn.Module):
    """Non-overlapping tubelets of ``tubelet_size x patch_size x patch_size`` pixels -> tokens.

    Args:
        patch_size: spatial side of a patch in pixels.
        tubelet_size: frames per tubelet.
        in_chans: input channels.
        embed_dim: token width.
    """

    def __init__(
        self, patch_size: int = 16, tubelet_size: int = 2, in_chans: int = 3, embed_dim: int = 768
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.proj = nn.Conv3d(
            in_chans,
            embed_dim,
            kernel_size=(tubelet_size, patch_size, patch_size),
            stride=(tubelet_size, patch_size, patch_size),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)  # (B, D, T/t, H/p, W/p)
        return x.flatten(2).transpose(1, 2)  # (B, N, D)
