"""A seeded, resumable, distributed sampler for endless pretraining.

V-JEPA-style pretraining counts steps, not epochs, and must resume mid-epoch after a
kill. Epoch ``e`` visits the dataset in a permutation seeded by ``(seed, e)``; rank ``r``
of ``world_size`` takes the strided share ``perm[r::world_size]`` (the permutation is
padded by wrapping so every rank gets the same count, as ``DistributedSampler`` does).
``start_index`` is how many samples this rank has already consumed: a resumed sampler
jumps there arithmetically, without touching the items it skips.

The sampler yields ``(epoch, index)`` pairs; ``VideoClipDataset`` accepts them and seeds
its augmentation from ``(seed, epoch, index)``, so a resumed run reproduces the clips.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["ResumableSampler"]


class ResumableSampler(Sampler):
    """Deterministic epoch-cycling sampler with a resume offset.

    Args:
        dataset_len: number of items in the dataset.
        seed: the run's seed; epoch ``e`` uses a permutation seeded by ``(seed, e)``.
        rank: this process's rank.
        world_size: number of data-parallel processes.
        shuffle: permute each epoch (else the identity order).
        start_index: samples this rank already consumed (resume point).
        num_epochs: stop after this many epochs; ``None`` cycles forever.
    """

    def __init__(
        self,
        dataset_len: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        start_index: int = 0,
        num_epochs: int | None = None,
    ):
        if dataset_len < 1:
            raise ValueError(f"ResumableSampler.dataset_len: expected >= 1, got {dataset_len}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"ResumableSampler: expected 0 <= rank < world_size, got rank={rank}, "
                f"world_size={world_size}"
            )
        if start_index < 0:
            raise ValueError(f"ResumableSampler.start_index: expected >= 0, got {start_index}")
        self.dataset_len = dataset_len
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.start_index = start_index
        self.num_epochs = num_epochs
        self.per_rank = -(-dataset_len // world_size)  # ceil

    def epoch_indices(self, epoch: int) -> list[int]:
        """This rank's dataset indices for ``epoch``, in order."""
        if self.shuffle:
            s = np.random.SeedSequence([self.seed, epoch]).generate_state(2, np.uint32)
            g = torch.Generator().manual_seed((int(s[0]) << 32) | int(s[1]))
            perm = torch.randperm(self.dataset_len, generator=g).tolist()
        else:
            perm = list(range(self.dataset_len))
        total = self.per_rank * self.world_size
        while len(perm) < total:  # wrap, so every rank gets per_rank items
            perm += perm[: total - len(perm)]
        return perm[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, offset = divmod(self.start_index, self.per_rank)
        while self.num_epochs is None or epoch < self.num_epochs:
            for i in self.epoch_indices(epoch)[offset:]:
                yield epoch, i
            epoch, offset = epoch + 1, 0

    def __len__(self) -> int:
        if self.num_epochs is None:
            raise TypeError("ResumableSampler cycles forever (num_epochs=None): it has no len()")
        return max(0, self.num_epochs * self.per_rank - self.start_index)
