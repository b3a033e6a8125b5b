"""A small convolutional image encoder, trained end to end with a compact-latent world model.

PLDM (Sobal et al., 2025) trains a conv encoder with its predictor from pixels; LeWM trains a
ViT the same way. On ``swm/PushT-v1`` the V-JEPA-pretrained ``vit_micro`` kept the T's pose
too coarsely for the task's success radius (20 px, 20 degrees; see the README), and
fine-tuning that ViT end to end runs about 10 s a step on 2 CPU cores. This encoder is the
cheap alternative: strided convolutions down to one token per ``patch_size`` pixels, so it
fits everything that takes a vworld encoder (``tubelet_size``, ``embed_dim``, ``grid``, tokens
``(B, h*w, D)`` in row-major order, as the ViT's).

It encodes images, not clips: ``tubelet_size`` is 1, and a clip of ``T`` frames gives ``T``
frames' tokens one after the other. It cannot be V-JEPA-pretrained (there is nothing to mask);
``vworld train-ac encoder=scratch:conv_micro latent.finetune_encoder=true`` builds and trains it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

__all__ = ["ConvEncoder"]


class _Stage(nn.Module):
    """Halve the resolution, then one residual 3x3 conv at the new width."""

    def __init__(self, cin: int, cout: int, groups: int) -> None:
        super().__init__()
        self.down = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(groups, cout), nn.GELU()
        )
        self.res = nn.Sequential(
            nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(groups, cout), nn.GELU()
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.down(x)
        return x + self.res(x)


class ConvEncoder(nn.Module):
    """Strided conv stages down to one ``embed_dim`` token per ``patch_size`` pixels.

    Args:
        embed_dim: token width D (a 1x1 conv after the last stage).
        channels: width of each stride-2 stage; ``2 ** len(channels)`` must be ``patch_size``.
        patch_size: pixels per token side.
        img_size: the image size it is meant for (recorded; any multiple of ``patch_size`` works).
        in_chans: input channels.
        groups: GroupNorm groups in every stage.
    """

    tubelet_size = 1

    def __init__(
        self,
        embed_dim: int = 64,
        channels: Sequence[int] = (16, 32, 64),
        patch_size: int = 8,
        img_size: int = 64,
        in_chans: int = 3,
        groups: int = 8,
    ) -> None:
        super().__init__()
        if 2 ** len(channels) != patch_size:
            raise ValueError(
                f"ConvEncoder: {len(channels)} stride-2 stages give {2 ** len(channels)}-px "
                f"tokens, not patch_size={patch_size}; give log2(patch_size) channels"
            )
        bad = [c for c in channels if c % groups]
        if bad:
            raise ValueError(f"ConvEncoder: channels {bad} are not multiples of groups={groups}")
        self.embed_dim, self.patch_size, self.img_size = embed_dim, patch_size, img_size
        widths = [in_chans, *channels]
        self.stages = nn.Sequential(*(_Stage(a, b, groups) for a, b in pairwise(widths)))
        self.head = nn.Conv2d(widths[-1], embed_dim, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                with torch.no_grad():
                    m.weight.mul_(1 / math.sqrt(2))  # two branches add in every stage
                nn.init.zeros_(m.bias)

    def grid(self, T: int, H: int, W: int) -> tuple[int, int, int]:
        """Token grid ``(T, H/p, W/p)`` of ``T`` frames of ``H x W`` pixels."""
        p = self.patch_size
        if H % p or W % p or T <= 0 or H <= 0 or W <= 0:
            raise ValueError(
                f"ConvEncoder: input (T, H, W)=({T}, {H}, {W}) needs H and W multiples of "
                f"patch_size={p}"
            )
        return T, H // p, W // p

    def forward(self, x: Tensor, masks: Tensor | None = None) -> Tensor:
        """Encode frames.

        Args:
            x: ``(B, C, T, H, W)`` normalised frames (a video encoder's input) or
                ``(B, C, H, W)``.
            masks: not supported (raises): a conv encoder sees whole frames.
        Returns:
            ``(B, T*h*w, D)`` tokens, frame by frame, each frame row-major.
        """
        if masks is not None:
            raise ValueError("ConvEncoder encodes whole frames; token masks need a ViT")
        if x.dim() == 4:
            x = x.unsqueeze(2)
        if x.dim() != 5:
            raise ValueError(f"ConvEncoder: expected (B, C, T, H, W), got {tuple(x.shape)}")
        b, c, t, h, w = x.shape
        self.grid(t, h, w)
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        y = self.head(self.stages(frames))  # (B*T, D, h/p, w/p)
        return y.flatten(2).transpose(1, 2).reshape(b, -1, self.embed_dim)
