"""Token positions and the V-JEPA 3D sin-cos table."""

import math

import torch

from vworld.layers.patch_embed import PatchEmbed3D, gather_tokens
from vworld.layers.pos_embed import grid_positions, sincos_3d


def test_grid_positions_time_major():
    grid = (2, 3, 4)
    ids = torch.tensor([0, 1, 4, 12, 23])
    pos = grid_positions(ids, grid)
    expected = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0], [1, 2, 3]]).float()
    torch.testing.assert_close(pos, expected)


def test_sincos_3d_values_and_shape():
    d = 16
    table = sincos_3d(d, (2, 3, 4))
    assert table.shape == (24, 16) and table.dtype == torch.float32
    # token 23 is (t=1, h=2, w=3); time gets 8 channels [sin x4 | cos x4], height 4, width 4
    row = table[23]
    assert math.isclose(row[0].item(), math.sin(1.0), abs_tol=1e-6)
    assert math.isclose(row[4].item(), math.cos(1.0), abs_tol=1e-6)
    assert math.isclose(row[1].item(), math.sin(1.0 / 10000 ** (1 / 4)), abs_tol=1e-6)
    assert math.isclose(row[8].item(), math.sin(2.0), abs_tol=1e-6)
    assert math.isclose(row[10].item(), math.cos(2.0), abs_tol=1e-6)
    assert math.isclose(row[12].item(), math.sin(3.0), abs_tol=1e-6)
    uni = sincos_3d(16, (2, 3, 4), uniform_power=True)  # 6 channels per axis, cut to 16
    assert uni.shape == (24, 16)
    assert math.isclose(uni[23, 6].item(), math.sin(2.0), abs_tol=1e-6)


def test_patch_embed_and_gather():
    pe = PatchEmbed3D(patch_size=8, tubelet_size=2, in_chans=3, embed_dim=10)
    x = torch.randn(2, 3, 4, 16, 24)
    tok = pe(x)
    assert tok.shape == (2, 2 * 2 * 3, 10)
    # token 7 = (t=1, h=0, w=1) comes from frames 2-3, rows 0-7, cols 8-15
    ref = pe.proj(x[:, :, 2:4, 0:8, 8:16]).flatten(1)
    torch.testing.assert_close(tok[:, 7], ref)
    ids = torch.tensor([[7, 0], [3, 3]])
    g = gather_tokens(tok, ids)
    torch.testing.assert_close(g[0, 0], tok[0, 7])
    torch.testing.assert_close(g[1, 1], tok[1, 3])
