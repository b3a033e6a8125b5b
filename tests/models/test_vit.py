"""Tubelet ViT encoder: shapes, masking keeps positions, other input sizes, init."""

import math

import pytest
import torch

from vworld.models.vit import VisionTransformer


def _vit(pos_embed, **kw):
    torch.manual_seed(0)
    cfg = dict(img_size=32, patch_size=8, num_frames=4, embed_dim=48, depth=2, num_heads=2)
    cfg.update(kw)
    return VisionTransformer(pos_embed=pos_embed, **cfg).eval()


@pytest.mark.parametrize("pos_embed", ["rope", "sincos"])
def test_full_and_masked_shapes(pos_embed):
    m = _vit(pos_embed)
    x = torch.randn(2, 3, 4, 32, 32)
    assert m.grid(4, 32, 32) == (2, 4, 4)
    assert m(x).shape == (2, 32, 48)
    masks = torch.stack([torch.randperm(32)[:10] for _ in range(2)])
    assert m(x, masks=masks).shape == (2, 10, 48)


@pytest.mark.parametrize("pos_embed", ["rope", "sincos"])
def test_masked_forward_keeps_positions(pos_embed):
    m = _vit(pos_embed)
    x = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        full = m(x)
        perm = torch.stack([torch.randperm(32) for _ in range(2)])
        # all tokens, shuffled: the same features, shuffled (positions follow the tokens)
        shuffled = m(x, masks=perm)
        torch.testing.assert_close(
            shuffled, torch.gather(full, 1, perm.unsqueeze(-1).expand(-1, -1, 48))
        )
        # a subset differs from the full forward (the context is smaller) but is finite
        sub = m(x, masks=perm[:, :8])
        assert torch.isfinite(sub).all()
        assert not torch.allclose(sub, shuffled[:, :8], atol=1e-4)


@pytest.mark.parametrize("pos_embed", ["rope", "sincos"])
def test_other_input_sizes(pos_embed):
    m = _vit(pos_embed)
    x = torch.randn(1, 3, 6, 24, 40)
    assert m(x).shape == (1, 3 * 3 * 5, 48)
    if pos_embed == "sincos":  # fewer frames at the init size: a prefix of the stored table
        torch.testing.assert_close(m.pos_table((1, 4, 4))[0], m.pos_embed[0, :16])


def test_bad_input_raises_clear_error():
    m = _vit("rope")
    with pytest.raises(ValueError, match="tubelet_size"):
        m(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match="x must be"):
        m(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="pos_embed"):
        VisionTransformer(pos_embed="learned")


def test_single_image_by_repeating_frames():
    m = _vit("rope")
    img = torch.randn(2, 3, 32, 32)
    clip = img.unsqueeze(2).repeat(1, 1, m.tubelet_size, 1, 1)  # (B, C, t, H, W)
    assert m(clip).shape == (2, 16, 48)


def test_reference_init_and_grad_checkpointing():
    m = _vit("rope", depth=3, grad_checkpointing=True).train()
    std0 = m.blocks[0].attn.qkv.weight.std().item()
    assert 0.015 < std0 < 0.025
    for i, blk in enumerate(m.blocks, start=1):
        ratio = blk.mlp.fc2.weight.std().item() / std0
        assert math.isclose(ratio, 1 / math.sqrt(2 * i), rel_tol=0.25)
    assert m.blocks[0].attn.qkv.bias.abs().sum() == 0
    x = torch.randn(1, 3, 4, 32, 32)
    m(x).pow(2).mean().backward()
    plain = _vit("rope", depth=3)
    plain.load_state_dict(m.state_dict())
    plain.train()
    plain(x).pow(2).mean().backward()
    torch.testing.assert_close(
        m.blocks[0].attn.qkv.weight.grad, plain.blocks[0].attn.qkv.weight.grad
    )
