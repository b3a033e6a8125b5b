"""The conv image encoder keeps the ViT's interface: grid, row-major tokens, one frame at a time."""

import pytest
import torch

from vworld.encoders import encode_images, encoder_spec, load_encoder
from vworld.models.registry import create_model, model_kind


def test_tokens_are_frames_in_row_major_order_and_train():
    torch.manual_seed(0)
    enc = create_model("conv_test")
    assert model_kind("conv_test") == "image_encoder" and enc.tubelet_size == 1
    assert enc.grid(1, 64, 64) == (1, 16, 16)
    x = torch.zeros(2, 3, 1, 64, 64)
    x[1, :, :, :4, :4] = 3.0  # one bright patch, top left, in the second image only
    tok = enc(x)
    assert tok.shape == (2, 16 * 16, enc.embed_dim)
    diff = (tok[1] - tok[0]).abs().sum(-1).reshape(16, 16)
    # the tokens near it change (far ones only through GroupNorm's per-image statistics)
    assert diff[0, 0] > 20 * diff[8:, 8:].max(), diff
    # a clip of T frames gives T frames' tokens, the same as each frame alone
    clip = torch.randn(1, 3, 3, 32, 32)
    per_frame = torch.cat([enc(clip[:, :, i : i + 1]) for i in range(3)], 1)
    torch.testing.assert_close(enc(clip), per_frame)
    enc(clip).pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters())


def test_bad_shapes_and_masks_are_refused():
    enc = create_model("conv_test")
    with pytest.raises(ValueError, match="patch_size=4"):
        enc(torch.zeros(1, 3, 1, 30, 32))
    with pytest.raises(ValueError, match="ViT"):
        enc(torch.zeros(1, 3, 1, 32, 32), masks=torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="log2"):
        create_model("conv_test", channels=[8, 16, 16])


def test_scratch_encoders_build_from_the_registry_with_their_full_spec():
    spec = encoder_spec("scratch:conv_micro")
    assert spec == {
        "model": "conv_micro",
        "kwargs": {"embed_dim": 64, "channels": [16, 32, 64], "patch_size": 8, "img_size": 64},
    }
    torch.manual_seed(0)
    a = load_encoder("scratch:conv_test")
    torch.manual_seed(0)
    b = load_encoder("scratch:conv_test")
    assert not a.training and not any(p.requires_grad for p in a.parameters())
    frames = torch.randint(0, 255, (2, 64, 64, 3), dtype=torch.uint8)
    torch.testing.assert_close(encode_images(a, frames), encode_images(b, frames))  # seeded
    with pytest.raises(ValueError, match=r"no registered encoder 'conv_nope'.*conv_micro"):
        encoder_spec("scratch:conv_nope")


def test_pretraining_refuses_an_image_encoder_and_says_what_trains_it():
    from vworld.config import ConfigError, load_config
    from vworld.train.pretrain import PretrainConfig

    with pytest.raises(
        ConfigError, match=r"model\.encoder=conv_micro'.*encoder=scratch:conv_micro"
    ):
        load_config(
            PretrainConfig,
            "configs/pretrain/tiny-64px-8f.yaml",
            ["data.path=videos", "out_dir=runs/enc", "model.encoder=conv_micro"],
        )
