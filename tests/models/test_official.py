"""Official V-JEPA / V-JEPA 2 checkpoint layout -> vworld models (no reference code imported)."""

import pytest
import torch

from vworld.layers.pos_embed import sincos_3d
from vworld.models.official import (
    convert_official_state_dict,
    load_official_encoder,
    load_official_predictor,
)

D, DEPTH, HIDDEN, PD = 48, 2, 192, 24  # encoder width, depth, MLP hidden, predictor width
N = 2 * 4 * 4  # 4 frames / tubelet 2, 32 px / patch 8


def _block_names(prefix, d, hidden):
    return {
        f"{prefix}.norm1.weight": (d,),
        f"{prefix}.norm1.bias": (d,),
        f"{prefix}.attn.qkv.weight": (3 * d, d),
        f"{prefix}.attn.qkv.bias": (3 * d,),
        f"{prefix}.attn.proj.weight": (d, d),
        f"{prefix}.attn.proj.bias": (d,),
        f"{prefix}.norm2.weight": (d,),
        f"{prefix}.norm2.bias": (d,),
        f"{prefix}.mlp.fc1.weight": (hidden, d),
        f"{prefix}.mlp.fc1.bias": (hidden,),
        f"{prefix}.mlp.fc2.weight": (d, hidden),
        f"{prefix}.mlp.fc2.bias": (d,),
    }


def _official_encoder(with_pos):
    names = {
        "patch_embed.proj.weight": (D, 3, 2, 8, 8),
        "patch_embed.proj.bias": (D,),
        "norm.weight": (D,),
        "norm.bias": (D,),
    }
    for i in range(DEPTH):
        names.update(_block_names(f"blocks.{i}", D, HIDDEN))
    sd = {f"module.backbone.{k}": torch.randn(s) * 0.1 for k, s in names.items()}
    if with_pos == "sincos":
        sd["module.backbone.pos_embed"] = sincos_3d(D, (2, 4, 4)).unsqueeze(0)
    elif with_pos == "zeros":
        sd["module.backbone.pos_embed"] = torch.zeros(1, N, D)
    return sd


def _official_predictor(n_tokens, with_pos):
    names = {
        "predictor_embed.weight": (PD, D),
        "predictor_embed.bias": (PD,),
        "predictor_norm.weight": (PD,),
        "predictor_norm.bias": (PD,),
        "predictor_proj.weight": (D, PD),
        "predictor_proj.bias": (D,),
    }
    names.update({f"mask_tokens.{i}": (1, 1, PD) for i in range(n_tokens)})
    for i in range(DEPTH):
        names.update(_block_names(f"predictor_blocks.{i}", PD, 4 * PD))
    sd = {f"module.backbone.{k}": torch.randn(s) * 0.1 for k, s in names.items()}
    if with_pos == "sincos":
        sd["module.backbone.predictor_pos_embed"] = sincos_3d(PD, (2, 4, 4)).unsqueeze(0)
    elif with_pos == "zeros":
        sd["module.backbone.predictor_pos_embed"] = torch.zeros(1, N, PD)
    return sd


def test_convert_strips_prefixes_only():
    sd = {
        "module.backbone.blocks.0.attn.qkv.weight": torch.ones(1),
        "backbone.norm.bias": torch.zeros(1),
        "_orig_mod.pos_embed": torch.zeros(1),
        "mask_tokens.0": torch.zeros(1),
    }
    out = convert_official_state_dict(sd)
    assert sorted(out) == ["blocks.0.attn.qkv.weight", "mask_tokens.0", "norm.bias", "pos_embed"]
    assert out["blocks.0.attn.qkv.weight"] is sd["module.backbone.blocks.0.attn.qkv.weight"]


@pytest.mark.parametrize(
    ("enc_pos", "n_tokens", "expected"),
    [(None, 2, "rope"), ("zeros", 2, "rope"), ("sincos", 10, "rope"), ("sincos", 2, "sincos")],
)
def test_load_infers_architecture_and_positions(tmp_path, enc_pos, n_tokens, expected):
    torch.manual_seed(0)
    enc_sd = _official_encoder(enc_pos)
    pred_sd = _official_predictor(n_tokens, with_pos=enc_pos)
    path = tmp_path / "ckpt.pt"
    torch.save(
        {"encoder": enc_sd, "target_encoder": enc_sd, "predictor": pred_sd, "epoch": 1}, path
    )

    enc = load_official_encoder(path, num_heads=2)
    assert enc.pos_embed_type == expected
    assert (enc.embed_dim, enc.depth, enc.patch_size, enc.tubelet_size) == (D, DEPTH, 8, 2)
    assert enc.blocks[0].mlp.fc1.out_features == HIDDEN
    torch.testing.assert_close(
        enc.blocks[1].attn.qkv.weight, enc_sd["module.backbone.blocks.1.attn.qkv.weight"]
    )
    if expected == "sincos":
        assert enc.init_grid == (2, 4, 4)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        out = enc(x)
        torch.testing.assert_close(out, load_official_encoder(path, num_heads=2)(x))
    assert out.shape == (1, N, D)

    pred = load_official_predictor(path, num_heads=2, patch_size=8)
    assert pred.pos_embed_type == expected
    assert (pred.num_mask_tokens, pred.predictor_embed_dim, pred.embed_dim) == (n_tokens, PD, D)
    ids = torch.randperm(N).unsqueeze(0)
    with torch.no_grad():
        y = pred(out[:, :10], ids[:, :10], ids[:, 10:], grid=(2, 4, 4), mask_index=1)
    assert y.shape == (1, N - 10, D) and torch.isfinite(y).all()


def test_load_errors_name_the_problem(tmp_path):
    path = tmp_path / "bad.pt"
    sd = _official_encoder(None)
    del sd["module.backbone.blocks.1.norm2.bias"]
    torch.save({"target_encoder": sd}, path)
    with pytest.raises(ValueError, match=r"missing \['blocks.1.norm2.bias'\]"):
        load_official_encoder(path, num_heads=2)
    with pytest.raises(KeyError, match="predictor"):
        load_official_predictor(path)
    with pytest.raises(FileNotFoundError):
        load_official_encoder(tmp_path / "nope.pt")
