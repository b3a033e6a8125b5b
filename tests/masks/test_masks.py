"""Multi-block 3D masks (V-JEPA 2 settings) and random tube masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vworld.masks import (
    MaskConfig,
    MaskSampler,
    MultiBlockMask3D,
    TubeMask,
    mask_seed,
    vjepa2_mask_configs,
)

GRID = (8, 16, 16)  # 16x256x256 clips, patch 16, tubelet 2
N = 8 * 16 * 16


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("cfg", vjepa2_mask_configs())
def test_shapes_sorted_disjoint(cfg):
    ctx, tgt = MultiBlockMask3D(GRID, cfg)(6, _gen(0))
    assert ctx.dtype == tgt.dtype == torch.long
    assert ctx.shape[0] == tgt.shape[0] == 6
    assert ctx.shape[1] > 0 and tgt.shape[1] > 0 and ctx.shape[1] + tgt.shape[1] <= N
    assert torch.all(ctx.diff(dim=1) > 0) and torch.all(tgt.diff(dim=1) > 0)
    assert ctx.min() >= 0 and max(ctx.max(), tgt.max()) < N
    for c, t in zip(ctx, tgt):
        assert not set(c.tolist()) & set(t.tolist())


def test_context_is_complement_of_blocks_before_truncation():
    gen = MultiBlockMask3D(GRID, MaskConfig(num_blocks=3))
    g = _gen(1)
    size = gen.block_size(g)
    target = gen.target_mask(4, size, g)  # (B, t, h, w)
    # Temporal scale 1.0: every block spans the whole clip, so masks are the same at all t.
    assert torch.equal(target, target[:, :1].expand_as(target))
    ctx, tgt = MultiBlockMask3D(GRID, MaskConfig(num_blocks=3))(1, _gen(1))
    assert sorted(ctx[0].tolist() + tgt[0].tolist()) == list(range(N))  # B=1: no truncation
    # Each block's area is its sampled size; the union covers at least one block.
    bt, bh, bw = size
    assert bt == GRID[0] and tgt.shape[1] >= bh * bw * bt


def test_equal_counts_are_batch_minimum():
    gen = MultiBlockMask3D(GRID, MaskConfig(num_blocks=8))
    ctx_b, tgt_b = gen(5, _gen(2))
    g = _gen(2)
    size = gen.block_size(g)
    target = gen.target_mask(5, size, g).flatten(1)
    assert ctx_b.shape[1] == int((~target).sum(1).min())
    assert tgt_b.shape[1] == int(target.sum(1).min())
    for b in range(5):  # truncation keeps the first (lowest) indices of each sample's set
        assert ctx_b[b].tolist() == torch.nonzero(~target[b]).flatten()[: ctx_b.shape[1]].tolist()


def test_same_seed_same_masks_different_seed_different():
    s = MaskSampler(GRID, vjepa2_mask_configs())
    a, b, c = s.sample(4, 11), s.sample(4, 11), s.sample(4, 12)
    assert len(a) == 2
    for (ca, ta), (cb, tb) in zip(a, b):
        assert torch.equal(ca, cb) and torch.equal(ta, tb)
    assert any(ca.shape != cc.shape or not torch.equal(ca, cc) for (ca, _), (cc, _) in zip(a, c))
    assert mask_seed(0, 5, 0) == mask_seed(0, 5, 0)
    assert (
        len({mask_seed(0, 5, 0), mask_seed(0, 6, 0), mask_seed(0, 5, 1), mask_seed(1, 5, 0)}) == 4
    )


def test_vjepa2_mask_ratios():
    s = MaskSampler(GRID, vjepa2_mask_configs())
    masked = [[], []]
    for seed in range(60):
        for k, (ctx, _) in enumerate(s.sample(8, seed)):
            masked[k].append(1 - ctx.shape[1] / N)
    small, large = np.mean(masked[0]), np.mean(masked[1])
    # Measured: ~0.72 for 8 blocks at 0.15, ~0.90 for 2 blocks at 0.7 (after batch truncation).
    assert 0.6 < small < 0.85
    assert 0.82 < large < 0.97


def test_max_temporal_keep_and_max_keep():
    cfg = MaskConfig(spatial_scale=(0.1, 0.1), num_blocks=1, max_temporal_keep=0.5, max_keep=20)
    ctx, tgt = MultiBlockMask3D(GRID, cfg)(3, _gen(0))
    assert ctx.shape[1] == 20
    assert ctx.max() < N // 2  # context only in the first half of the time steps
    assert set(range(N // 2, N)) <= set(tgt[0].tolist())


def test_large_blocks_redrawn_until_context_left():
    # 3x3 blocks on a 4x4 grid: four of them cover everything with probability 4!/4^4 ~ 9%,
    # so a batch of 32 almost surely needs redraws.
    cfg = MaskConfig(spatial_scale=(0.6, 0.6), num_blocks=4, aspect_ratio=(1.0, 1.0))
    ctx, _ = MultiBlockMask3D((2, 4, 4), cfg)(32, _gen(0))
    assert ctx.shape[1] >= 2  # at least one spatial position, both time steps
    full = MaskConfig(spatial_scale=(0.95, 0.95), num_blocks=1, aspect_ratio=(1.0, 1.0))
    with pytest.raises(RuntimeError, match="leave no context"):
        MultiBlockMask3D((2, 4, 4), full)(2, _gen(0))


def test_bad_config_named():
    with pytest.raises(ValueError, match="spatial_scale"):
        MaskConfig(spatial_scale=(0.5, 0.2))
    with pytest.raises(ValueError, match="num_blocks"):
        MaskConfig(num_blocks=0)


def test_tube_mask():
    tube = TubeMask(GRID, ratio=0.9)
    ctx, tgt = tube(3, _gen(0))
    m = round(256 * 0.9)
    assert ctx.shape == (3, 8 * (256 - m)) and tgt.shape == (3, 8 * m)
    for c, t in zip(ctx, tgt):
        assert sorted(c.tolist() + t.tolist()) == list(range(N))
        spatial = torch.as_tensor(t) % 256
        per_pos = torch.bincount(spatial, minlength=256)
        assert set(per_pos.tolist()) <= {0, 8}  # a masked position is masked at every t
    c2, _ = tube(3, _gen(0))
    assert torch.equal(ctx, c2)
    with pytest.raises(ValueError, match="ratio"):
        TubeMask(GRID, ratio=1.0)
