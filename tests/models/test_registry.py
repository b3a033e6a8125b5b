"""Every registered model builds, runs forward and backward (big ones made shallow)."""

import pytest
import torch

from vworld.models import MaskedPredictor, VisionTransformer, create_model, list_models, model_kind


def _small(name):
    # big architectures keep their width/heads but run 1 block on a tiny clip
    if name.endswith("_test") or "_test_" in name:
        return {}
    return {"depth": 1, "img_size": 32, "num_frames": 4, "patch_size": 16}


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name):
    torch.manual_seed(0)
    kind = model_kind(name)
    if kind not in ("encoder", "predictor"):
        pytest.skip(f"{kind} models are exercised by their own tests")
    model = create_model(name, **_small(name))
    if kind == "encoder":
        assert isinstance(model, VisionTransformer)
        T, (H, W) = model.num_frames, model.img_size
        x = torch.randn(1, 3, T, H, W)
        grid = model.grid(T, H, W)
        n = grid[0] * grid[1] * grid[2]
        masks = torch.randperm(n)[: max(1, n // 2)].unsqueeze(0)
        out = model(x, masks=masks)
        assert out.shape == (1, masks.shape[1], model.embed_dim)
    else:
        assert isinstance(model, MaskedPredictor)
        grid = model.init_grid
        n = grid[0] * grid[1] * grid[2]
        perm = torch.randperm(n).unsqueeze(0)
        ctx = torch.randn(1, n // 2, model.embed_dim)
        out = model(ctx, perm[:, : n // 2], perm[:, n // 2 :], grid=grid, mask_index=1)
        assert out.shape == (1, n - n // 2, model.embed_dim)
    out.float().pow(2).mean().backward()
    unused = {
        "mask_tokens.0",
        "mask_tokens.2",
        "mask_tokens.3",
        "mask_tokens.4",
        "mask_tokens.5",
        "mask_tokens.6",
        "mask_tokens.7",
        "mask_tokens.8",
        "mask_tokens.9",
    }
    for pname, prm in model.named_parameters():
        if pname in unused:
            assert prm.grad is None
            continue
        assert prm.grad is not None and torch.isfinite(prm.grad).all(), pname


def test_registry_rejects_typos_and_unknown_names():
    with pytest.raises(TypeError, match="depht"):
        create_model("vit_test", depht=3)
    with pytest.raises(KeyError, match="vit_nope"):
        create_model("vit_nope")
    m = create_model("vit_test", depth=1, pos_embed="sincos")
    assert len(m.blocks) == 1 and m.pos_embed is not None


def test_spec_sizes():
    expected = {
        "vit_tiny": (192, 12, 3),
        "vit_small": (384, 12, 6),
        "vit_base": (768, 12, 12),
        "vit_large": (1024, 24, 16),
        "vit_huge": (1280, 32, 16),
        "vit_giant": (1408, 40, 22),
    }
    for name, (w, d, h) in expected.items():
        with torch.device("meta"):  # shapes only, no memory or init cost
            m = create_model(name)
        assert len(m.blocks) == d
        assert (m.embed_dim, m.num_heads) == (w, h)
        assert m.blocks[0].mlp.fc1.out_features == (6144 if name == "vit_giant" else 4 * w)
    with torch.device("meta"):
        p = create_model("predictor_vjepa2")
    assert (p.predictor_embed_dim, p.num_heads, p.num_mask_tokens) == (384, 12, 10)


def test_encoder_names_state_their_spec_and_short_names_stay_aliases():
    from vworld.models.registry import ENCODER_ALIASES

    assert ENCODER_ALIASES["vit_micro"] == "vit_micro_p8t2_64px_8f"
    assert ENCODER_ALIASES["vit_large"] == "vit_large_p16t2_256px_16f"
    for short, spec in (
        ("vit_micro", "vit_micro_p8t2_64px_8f"),
        ("vit_test", "vit_test_p8t2_32px_4f"),
    ):
        a, b = create_model(short), create_model(spec)
        assert (a.patch_size, a.tubelet_size, a.img_size, a.num_frames) == (
            b.patch_size,
            b.tubelet_size,
            b.img_size,
            b.num_frames,
        )
        assert a.state_dict().keys() == b.state_dict().keys()
    assert "vit_micro" not in list_models("encoder") and "vit_micro" in list_models()
