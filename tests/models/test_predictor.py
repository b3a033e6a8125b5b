"""Masked predictor: shapes, mask tokens, position dependence."""

import pytest
import torch

from vworld.models.predictor import MaskedPredictor


def _pred(pos_embed, **kw):
    torch.manual_seed(0)
    cfg = dict(
        embed_dim=48,
        predictor_embed_dim=24,
        depth=2,
        num_heads=2,
        num_mask_tokens=3,
        zero_init_mask_tokens=False,
        img_size=32,
        patch_size=8,
        num_frames=4,
    )
    cfg.update(kw)
    return MaskedPredictor(pos_embed=pos_embed, **cfg).eval()


def _masks(B=2, N=32, nc=10):
    perm = torch.stack([torch.randperm(N) for _ in range(B)])
    return perm[:, :nc], perm[:, nc:]


@pytest.mark.parametrize("pos_embed", ["rope", "sincos"])
def test_shapes_and_mask_index(pos_embed):
    p = _pred(pos_embed)
    mc, mt = _masks()
    ctx = torch.randn(2, 10, 48)
    out0 = p(ctx, mc, mt, grid=(2, 4, 4), mask_index=0)
    assert out0.shape == (2, 22, 48)
    out1 = p(ctx, mc, mt, grid=(2, 4, 4), mask_index=1)
    assert not torch.allclose(out0, out1)
    torch.testing.assert_close(
        p(ctx, mc, mt, grid=(2, 4, 4), mask_index=4), out1
    )  # modulo, as official


@pytest.mark.parametrize("pos_embed", ["rope", "sincos"])
def test_targets_depend_on_position_and_order_is_equivariant(pos_embed):
    p = _pred(pos_embed, init_std=0.2)  # large weights so position effects are well above noise
    mc, mt = _masks()
    ctx = torch.randn(2, 10, 48)
    with torch.no_grad():
        out = p(ctx, mc, mt, grid=(2, 4, 4))
        # permuting target order permutes the outputs (no sorting needed)
        perm = torch.randperm(22)
        torch.testing.assert_close(
            p(ctx, mc, mt[:, perm], grid=(2, 4, 4)), out[:, perm], atol=1e-5, rtol=1e-5
        )
        # identical mask tokens at different positions get different predictions
        assert (out[:, 0] - out[:, 1]).abs().max() > 1e-3
        # a different grid (other input size) works
        mc2, mt2 = _masks(N=3 * 2 * 5)
        assert p(ctx, mc2, mt2, grid=(3, 2, 5)).shape == (2, 20, 48)


def test_bad_masks_raise():
    p = _pred("rope")
    with pytest.raises(ValueError, match="masks_ctx"):
        p(
            torch.randn(2, 10, 48),
            torch.zeros(2, 9, dtype=torch.long),
            torch.zeros(2, 3, dtype=torch.long),
            (2, 4, 4),
        )
