"""Tests for loading official V-JEPA 2-AC predictor checkpoints (key names and shapes)."""

from __future__ import annotations

import pytest
import torch

from vworld.models.ac_predictor import ActionConditionedPredictor
from vworld.models.official_ac import (
    clean_official_ac_keys,
    load_official_ac_predictor,
    official_ac_predictor_from_state_dict,
)

# Small official-style predictor: encoder width D, predictor width P, depth 2, 7-d actions.
D, P, DEPTH, A = 40, 48, 2, 7


def official_names_and_shapes(embed: int, pred: int, depth: int, act: int) -> dict:
    """Parameter names/shapes of facebookresearch/vjepa2 ``VisionTransformerPredictorAC``.

    Read off its module tree (src/models/ac_predictor.py, ACBlock/ACRoPEAttention/MLP in
    src/models/utils/modules.py): no buffers; the mask is a plain attribute.
    """
    names = {
        "predictor_embed.weight": (pred, embed),
        "predictor_embed.bias": (pred,),
        "action_encoder.weight": (pred, act),
        "action_encoder.bias": (pred,),
        "state_encoder.weight": (pred, act),
        "state_encoder.bias": (pred,),
        "extrinsics_encoder.weight": (pred, act - 1),
        "extrinsics_encoder.bias": (pred,),
    }
    for i in range(depth):
        b = f"predictor_blocks.{i}."
        names.update(
            {
                b + "norm1.weight": (pred,),
                b + "norm1.bias": (pred,),
                b + "attn.qkv.weight": (3 * pred, pred),
                b + "attn.qkv.bias": (3 * pred,),
                b + "attn.proj.weight": (pred, pred),
                b + "attn.proj.bias": (pred,),
                b + "norm2.weight": (pred,),
                b + "norm2.bias": (pred,),
                b + "mlp.fc1.weight": (4 * pred, pred),
                b + "mlp.fc1.bias": (4 * pred,),
                b + "mlp.fc2.weight": (pred, 4 * pred),
                b + "mlp.fc2.bias": (pred,),
            }
        )
    names.update(
        {
            "predictor_norm.weight": (pred,),
            "predictor_norm.bias": (pred,),
            "predictor_proj.weight": (embed, pred),
            "predictor_proj.bias": (embed,),
        }
    )
    return names


def _official_state_dict(prefix: str = "module.backbone.") -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        prefix + k: 0.05 * torch.randn(shape, generator=g)
        for k, shape in official_names_and_shapes(D, P, DEPTH, A).items()
    }


def test_clean_keys_strips_wrapper_prefixes():
    sd = {"module.backbone.a.weight": 1, "module.b": 2, "c": 3}
    assert clean_official_ac_keys(sd) == {"a.weight": 1, "b": 2, "c": 3}
    with pytest.raises(ValueError, match="collides"):
        clean_official_ac_keys({"module.a": 1, "a": 2})


def test_load_official_checkpoint_file(tmp_path):
    sd = _official_state_dict()
    path = tmp_path / "vjepa2-ac.pt"
    torch.save({"encoder": {}, "predictor": sd, "epoch": 1}, path)
    m = load_official_ac_predictor(path, num_heads=4, grid=(2, 3))
    assert isinstance(m, ActionConditionedPredictor)
    assert (m.embed_dim, m.action_dim, m.state_dim) == (D, A, A)
    assert len(m.predictor_blocks) == DEPTH and m.num_heads == 4
    assert m.state_head is None and m.extrinsics_encoder is None and m.normalize_output
    own = m.state_dict()
    for k, v in clean_official_ac_keys(sd).items():
        if not k.startswith("extrinsics_encoder."):
            assert torch.equal(own[k], v), k
    z = torch.randn(1, 2, 6, D)
    a, s = torch.randn(1, 2, A), torch.randn(1, 2, A)
    with torch.no_grad():
        z_next, s_next = m(z, a, s)
    assert z_next.shape == z.shape and s_next is None
    # layer-normed outputs, as in the official training/planning
    torch.testing.assert_close(z_next.mean(-1), torch.zeros(1, 2, 6), rtol=0, atol=1e-4)


def test_load_with_extrinsics_and_bare_state_dict(tmp_path):
    path = tmp_path / "bare.pt"
    torch.save(_official_state_dict(prefix="module."), path)
    m = load_official_ac_predictor(path, num_heads=2, grid=(2, 2), use_extrinsics=True)
    assert m.extrinsics_encoder is not None and m.num_cond_tokens == 3
    z = torch.randn(2, 3, 4, D)
    with torch.no_grad():
        z_next, _ = m(z, torch.randn(2, 3, A), torch.randn(2, 3, A), torch.randn(2, 3, A - 1))
    assert z_next.shape == z.shape


def test_official_roundtrip_reproduces_outputs():
    torch.manual_seed(0)
    src = ActionConditionedPredictor(
        D, A, A, (2, 2), P, DEPTH, 4, state_head=False, normalize_output=True
    ).eval()
    sd = {"module." + k: v for k, v in src.state_dict().items()}
    sd["module.extrinsics_encoder.weight"] = torch.zeros(P, A - 1)
    sd["module.extrinsics_encoder.bias"] = torch.zeros(P)
    m = official_ac_predictor_from_state_dict(sd, num_heads=4, grid=(2, 2)).eval()
    z, a, s = torch.randn(1, 3, 4, D), torch.randn(1, 3, A), torch.randn(1, 3, A)
    with torch.no_grad():
        torch.testing.assert_close(m(z, a, s)[0], src(z, a, s)[0], rtol=0, atol=0)
        plan = torch.randn(3, 2, A)
        zr, sr = m.rollout(z, s, a[:, :2], plan, state_fn=lambda s_t, a_t: s_t + a_t)
    assert zr.shape == (3, 2, 4, D)
    torch.testing.assert_close(sr[:, -1], s[:, -1] + plan.sum(1))


def test_bad_official_checkpoints(tmp_path):
    sd = _official_state_dict()
    bad_shape = dict(sd)
    bad_shape["module.backbone.predictor_blocks.1.attn.proj.weight"] = torch.zeros(P, P + 1)
    with pytest.raises(ValueError, match=r"predictor_blocks\.1\.attn\.proj\.weight"):
        official_ac_predictor_from_state_dict(bad_shape, num_heads=4, grid=(2, 2))
    missing = {k: v for k, v in sd.items() if "predictor_norm.bias" not in k}
    with pytest.raises(KeyError, match=r"predictor_norm\.bias"):
        official_ac_predictor_from_state_dict(missing, num_heads=4, grid=(2, 2))
    with pytest.raises(ValueError, match="num_heads"):  # width 48 is not divisible by 5 heads
        official_ac_predictor_from_state_dict(sd, num_heads=5, grid=(2, 2))
    path = tmp_path / "other.pt"
    torch.save({"encoder": {"x": torch.zeros(1)}}, path)
    with pytest.raises(KeyError, match="predictor"):
        load_official_ac_predictor(path)
    with pytest.raises(FileNotFoundError):
        load_official_ac_predictor(tmp_path / "absent.pt")
