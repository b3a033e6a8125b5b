"""Multi-block 3D masks for video JEPA pretraining, as in V-JEPA and V-JEPA 2.

Bardes et al., "Revisiting Feature Prediction for Learning Visual Representations from
Video" (V-JEPA, 2024) and Assran et al., "V-JEPA 2" (2025). Each generator samples one
block size per batch (spatial scale, aspect ratio, temporal extent), places ``num_blocks``
such blocks at random positions in every sample's token grid, and takes their union as the
prediction target; the context is the complement. Every sample of a batch then keeps the
same number of context and target tokens by truncating to the batch minimum, as the
reference collator does, so the indices stack into ``(B, N)`` tensors.

Token order is time-major, then height, then width, matching the tubelet patch embedding.
All randomness comes from an explicit ``torch.Generator`` so that the trainer can draw the
masks of step ``k`` on rank ``r`` from ``mask_seed(seed, k, r)`` and reproduce them exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["MaskConfig", "MaskSampler", "MultiBlockMask3D", "mask_seed", "vjepa2_mask_configs"]


@dataclass
class MaskConfig:
    """One mask generator.

    Args:
        spatial_scale: range of the fraction of the ``h * w`` token grid covered by one block.
        temporal_scale: range of the fraction of the ``t`` time steps spanned by one block.
        aspect_ratio: range of block height / width (in tokens).
        num_blocks: blocks per sample; the target is their union.
        max_temporal_keep: the context only spans the first ``max(1, int(t * this))`` time
            steps; later time steps all go to the target (1.0 keeps the whole clip).
        max_keep: optional cap on the number of context tokens per sample.
    """

    spatial_scale: tuple[float, float] = (0.15, 0.15)
    temporal_scale: tuple[float, float] = (1.0, 1.0)
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    num_blocks: int = 8
    max_temporal_keep: float = 1.0
    max_keep: int | None = None

    def __post_init__(self) -> None:
        for name in ("spatial_scale", "temporal_scale", "aspect_ratio"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"MaskConfig.{name}: expected 0 < low <= high, got ({lo}, {hi})")
        if self.spatial_scale[1] > 1 or self.temporal_scale[1] > 1:
            raise ValueError("MaskConfig.spatial_scale/temporal_scale: expected values <= 1")
        if self.num_blocks < 1:
            raise ValueError(f"MaskConfig.num_blocks: expected >= 1, got {self.num_blocks}")
        if not 0 < self.max_temporal_keep <= 1:
            raise ValueError(
                f"MaskConfig.max_temporal_keep: expected in (0, 1], got {self.max_temporal_keep}"
            )
        if self.max_keep is not None and self.max_keep < 1:
            raise ValueError(f"MaskConfig.max_keep: expected None or >= 1, got {self.max_keep}")


def vjepa2_mask_configs() -> list[MaskConfig]:
    """The two generators of V-JEPA 2 pretraining: 8 blocks at 0.15 and 2 blocks at 0.7."""
    return [
        MaskConfig(spatial_scale=(0.15, 0.15), num_blocks=8),
        MaskConfig(spatial_scale=(0.7, 0.7), num_blocks=2),
    ]


def mask_seed(seed: int, step: int, rank: int = 0) -> int:
    """A 63-bit seed for the masks of ``step`` on ``rank``, stable across runs and machines.

    Args:
        seed: the run's seed.
        step: the optimizer step.
        rank: the data-parallel rank.
    """
    state = np.random.SeedSequence([seed, step, rank, 0x6D61736B]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _uniform(lo: float, hi: float, generator: torch.Generator) -> float:
    return lo + torch.rand(1, generator=generator).item() * (hi - lo)


class MultiBlockMask3D:
    """Multi-block masks on a ``(t, h, w)`` token grid.

    Args:
        grid: token grid ``(t, h, w)``, e.g. ``(8, 16, 16)`` for 16x256x256 at p16 t2.
        cfg: the generator's settings.
    """

    def __init__(self, grid: tuple[int, int, int], cfg: MaskConfig):
        if len(grid) != 3 or min(grid) < 1:
            raise ValueError(f"MultiBlockMask3D.grid: expected three positive ints, got {grid}")
        self.grid = tuple(int(g) for g in grid)
        self.cfg = cfg
        t = self.grid[0]
        self.max_context_t = max(1, int(t * cfg.max_temporal_keep))

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    def block_size(self, generator: torch.Generator) -> tuple[int, int, int]:
        """Sample one block size ``(bt, bh, bw)`` in tokens (shared by the whole batch)."""
        t, h, w = self.grid
        c = self.cfg
        bt = max(1, int(t * _uniform(*c.temporal_scale, generator)))
        keep = int(h * w * _uniform(*c.spatial_scale, generator))
        ar = _uniform(*c.aspect_ratio, generator)
        bh = min(h, max(1, round(math.sqrt(keep * ar))))
        bw = min(w, max(1, round(math.sqrt(keep / ar))))
        return bt, bh, bw

    def target_mask(
        self, batch_size: int, size: tuple[int, int, int], generator: torch.Generator
    ) -> torch.Tensor:
        """Boolean ``(B, t, h, w)`` masks, True on target tokens, for a given block size."""
        t, h, w = self.grid
        bt, bh, bw = size
        n = (batch_size, self.cfg.num_blocks)
        top = torch.randint(0, h - bh + 1, n, generator=generator)
        left = torch.randint(0, w - bw + 1, n, generator=generator)
        start = torch.randint(0, t - bt + 1, n, generator=generator)
        # Block membership is separable: a token is inside block k iff it is inside the
        # block's extent along each axis. The union over k of (time AND space) is a count
        # of covering blocks, i.e. a batched product of the time and space indicators.
        ar_t, ar_h, ar_w = torch.arange(t), torch.arange(h), torch.arange(w)
        in_t = (ar_t >= start[..., None]) & (ar_t < (start + bt)[..., None])  # (B, K, t)
        in_h = (ar_h >= top[..., None]) & (ar_h < (top + bh)[..., None])  # (B, K, h)
        in_w = (ar_w >= left[..., None]) & (ar_w < (left + bw)[..., None])  # (B, K, w)
        in_hw = (in_h[..., :, None] & in_w[..., None, :]).flatten(2)  # (B, K, h*w)
        covered = torch.bmm(in_t.transpose(1, 2).float(), in_hw.float())  # (B, t, h*w)
        target = (covered > 0).view(batch_size, t, h, w)
        if self.max_context_t < t:
            target[:, self.max_context_t :] = True
        return target

    def __call__(
        self, batch_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample context and target token indices for a batch.

        Args:
            batch_size: number of samples.
            generator: the source of all randomness (seed it for reproducible masks).
        Returns:
            ``(context, target)``: sorted LongTensors ``(B, Nc)`` and ``(B, Nt)`` of token
            indices into the flattened ``t * h * w`` grid; disjoint per sample.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        size = self.block_size(generator)
        target = self.target_mask(batch_size, size, generator).flatten(1)  # (B, N)
        # A sample whose blocks cover everything has no context: redraw its positions
        # (the reference does the same; it only happens with very large blocks).
        for _ in range(100):
            empty = ~(~target).any(dim=1)
            if not empty.any():
                break
            redraw = self.target_mask(int(empty.sum()), size, generator).flatten(1)
            target[empty] = redraw
        else:
            raise RuntimeError(
                f"MultiBlockMask3D: blocks of size {size} on grid {self.grid} leave no context; "
                "lower MaskConfig.spatial_scale or num_blocks"
            )
        n_tgt = target.sum(dim=1)
        n_ctx = target.shape[1] - n_tgt
        keep_ctx = int(n_ctx.min())
        if self.cfg.max_keep is not None:
            keep_ctx = min(keep_ctx, self.cfg.max_keep)
        keep_tgt = int(n_tgt.min())
        return first_k_indices(~target, keep_ctx), first_k_indices(target, keep_tgt)


def first_k_indices(mask: torch.Tensor, k: int) -> torch.Tensor:
    """The first ``k`` True positions of each row of a ``(B, N)`` bool mask, ascending.

    Every row must have at least ``k`` True entries. Returns a LongTensor ``(B, k)``.
    """
    rank = mask.cumsum(dim=1)  # (B, N): 1-based rank of each True entry in its row
    keep = mask & (rank <= k)
    # nonzero walks row-major, so each row's k kept columns come out together and in order.
    return torch.nonzero(keep)[:, 1].view(mask.shape[0], k)


class MaskSampler:
    """Several mask generators on one grid, drawn together from one seed.

    Args:
        grid: token grid ``(t, h, w)``.
        cfgs: one ``MaskConfig`` per generator (see ``vjepa2_mask_configs``).
    """

    def __init__(self, grid: tuple[int, int, int], cfgs: list[MaskConfig]):
        if not cfgs:
            raise ValueError("MaskSampler.cfgs: expected at least one MaskConfig")
        self.grid = tuple(grid)
        self.generators = [MultiBlockMask3D(grid, c) for c in cfgs]

    def sample(self, batch_size: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(context (B, Nc), target (B, Nt)), ...]``, one pair per generator.

        Args:
            batch_size: number of samples.
            seed: e.g. ``mask_seed(run_seed, step, rank)``; same seed, same masks.
        """
        g = torch.Generator().manual_seed(int(seed))
        return [gen(batch_size, g) for gen in self.generators]
