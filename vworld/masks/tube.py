"""Random tube masks: random spatial positions masked through the whole clip.

The "random tube" baseline of VideoMAE (Tong et al., 2022) and V-JEPA's ablations: a
fraction ``ratio`` of the ``h * w`` spatial positions is chosen per sample and every time
step at those positions goes to the target, so the context never sees a masked position
at another time. Indices follow the same conventions as ``MultiBlockMask3D``.
"""

from __future__ import annotations

import torch

from vworld.masks.multiblock import first_k_indices

__all__ = ["TubeMask"]


class TubeMask:
    """Random tube masking on a ``(t, h, w)`` token grid.

    Args:
        grid: token grid ``(t, h, w)``.
        ratio: fraction of spatial positions masked (target), e.g. 0.9.
    """

    def __init__(self, grid: tuple[int, int, int], ratio: float = 0.9):
        if len(grid) != 3 or min(grid) < 1:
            raise ValueError(f"TubeMask.grid: expected three positive ints, got {grid}")
        self.grid = tuple(int(g) for g in grid)
        _, h, w = self.grid
        self.num_masked = round(h * w * ratio)
        if not 0 < self.num_masked < h * w:
            raise ValueError(
                f"TubeMask.ratio: {ratio} masks {self.num_masked} of {h * w} positions; "
                "expected at least one masked and one visible"
            )
        self.ratio = ratio

    def __call__(
        self, batch_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sorted context ``(B, t * (hw - m))`` and target ``(B, t * m)`` token indices.

        Args:
            batch_size: number of samples.
            generator: the source of randomness.
        """
        t, h, w = self.grid
        hw = h * w
        scores = torch.rand(batch_size, hw, generator=generator)
        masked = torch.zeros(batch_size, hw, dtype=torch.bool)
        masked.scatter_(1, scores.argsort(dim=1)[:, : self.num_masked], True)
        target = masked[:, None, :].expand(batch_size, t, hw).reshape(batch_size, t * hw)
        n_tgt = t * self.num_masked
        return first_k_indices(~target, t * hw - n_tgt), first_k_indices(target, n_tgt)
