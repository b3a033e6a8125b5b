"""Load the official V-JEPA 2-AC predictor weights into ``ActionConditionedPredictor``.

Follows Assran et al., "V-JEPA 2: Self-Supervised Video Models Enable Understanding, Prediction
and Planning" (2025) and the released ``vjepa2-ac-vitg.pt`` checkpoint of
facebookresearch/vjepa2. That file is a dict whose ``"predictor"`` entry is the state dict of
``VisionTransformerPredictorAC``, saved from a DistributedDataParallel wrapper (keys may start
with ``module.`` and ``backbone.``). Its parameter names are:

- ``predictor_embed`` (encoder width -> predictor width), ``action_encoder``,
  ``state_encoder`` (both from the 7-d action/pose), ``extrinsics_encoder`` (6-d; present in
  every checkpoint, used only when the model was trained with extrinsics tokens),
- ``predictor_blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``,
- ``predictor_norm``, ``predictor_proj`` (back to encoder width).

Our module uses the same names, so loading is a prefix clean-up plus shape checks. The official
model has no state head: pass ``state_fn`` to ``rollout`` (e.g. the pose integration used in
the official planning notebook). Its outputs were trained against layer-normed encoder tokens,
so ``normalize_output`` defaults to True here.
"""

from __future__ import annotations

import re
from pathlib import Path

from torch import Tensor

from vworld.files import load_tensors
from vworld.models.ac_predictor import ActionConditionedPredictor

_PREFIXES = ("module.", "backbone.", "_orig_mod.")


def clean_official_ac_keys(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Strip the DDP / wrapper prefixes (``module.``, ``backbone.``) from official keys.

    Args:
        state_dict: an official predictor state dict.
    """
    out = {}
    for key, val in state_dict.items():
        new = key
        while new.startswith(_PREFIXES):
            new = new.split(".", 1)[1]
        if new in out:
            raise ValueError(f"key {key!r} collides with another after prefix removal")
        out[new] = val
    return out


def official_ac_kwargs(
    state_dict: dict[str, Tensor], *, num_heads: int, use_extrinsics: bool = False
) -> dict:
    """Constructor arguments of ``ActionConditionedPredictor`` read from official weights.

    Widths, depth, action/state sizes and the MLP ratio come from the tensor shapes; the number
    of heads and the token grid are not recorded in the weights and must be given.

    Args:
        state_dict: cleaned official predictor state dict.
        num_heads: attention heads (16 for the released ViT-g model).
        use_extrinsics: whether the model was trained with an extrinsics token.
    """
    for name in ("predictor_embed.weight", "action_encoder.weight", "state_encoder.weight"):
        if name not in state_dict:
            raise KeyError(f"official predictor state dict has no {name!r}")
    if any(k.endswith("mlp.fc3.weight") for k in state_dict):
        raise ValueError("SwiGLU predictors (mlp.fc3, use_silu=True) are not supported")
    pred_dim, embed_dim = state_dict["predictor_embed.weight"].shape
    block_ids = {
        int(m.group(1)) for k in state_dict if (m := re.match(r"predictor_blocks\.(\d+)\.", k))
    }
    if not block_ids or block_ids != set(range(len(block_ids))):
        raise ValueError(f"predictor_blocks indices must be 0..depth-1, got {block_ids}")
    hidden = state_dict["predictor_blocks.0.mlp.fc1.weight"].shape[0]
    extr = state_dict.get("extrinsics_encoder.weight")
    if use_extrinsics and extr is None:
        raise KeyError("use_extrinsics=True but the state dict has no extrinsics_encoder")
    return dict(
        embed_dim=int(embed_dim),
        action_dim=int(state_dict["action_encoder.weight"].shape[1]),
        state_dim=int(state_dict["state_encoder.weight"].shape[1]),
        predictor_embed_dim=int(pred_dim),
        depth=len(block_ids),
        num_heads=num_heads,
        mlp_ratio=hidden / pred_dim,
        qkv_bias="predictor_blocks.0.attn.qkv.bias" in state_dict,
        extrinsics_dim=int(extr.shape[1]) if use_extrinsics else 0,
    )


def official_ac_predictor_from_state_dict(
    state_dict: dict[str, Tensor],
    *,
    num_heads: int = 16,
    grid: tuple[int, int] = (16, 16),
    max_steps: int = 64,
    use_extrinsics: bool = False,
    pool_grid: tuple[int, int] | None = None,
    normalize_output: bool = True,
) -> ActionConditionedPredictor:
    """Build an ``ActionConditionedPredictor`` and load official predictor weights strictly.

    Args:
        state_dict: the official predictor state dict (prefixes are removed here).
        num_heads: attention heads (not recorded in the weights).
        grid: frame token grid ``(h, w)``; (16, 16) for 256px frames with patch 16.
        max_steps: the longest sequence of time steps accepted.
        use_extrinsics: add the extrinsics token (only for models trained with it).
        pool_grid: optional token pooling (the released model was trained without it).
        normalize_output: layer-norm predicted tokens (as the official training and planning).
    """
    sd = clean_official_ac_keys(state_dict)
    kwargs = official_ac_kwargs(sd, num_heads=num_heads, use_extrinsics=use_extrinsics)
    if not use_extrinsics:
        sd = {k: v for k, v in sd.items() if not k.startswith("extrinsics_encoder.")}
    model = ActionConditionedPredictor(
        grid=grid,
        max_steps=max_steps,
        pool_grid=pool_grid,
        state_head=False,
        normalize_output=normalize_output,
        **kwargs,
    )
    expected = model.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    if missing or unexpected:
        raise KeyError(
            f"official predictor keys do not match: missing {missing[:8]}, "
            f"unexpected {unexpected[:8]}"
        )
    for key, val in sd.items():
        if val.shape != expected[key].shape:
            raise ValueError(
                f"{key} has shape {tuple(val.shape)}, expected {tuple(expected[key].shape)}"
            )
    model.load_state_dict(sd, strict=True)
    return model


def load_official_ac_predictor(
    path: str | Path,
    *,
    num_heads: int = 16,
    grid: tuple[int, int] = (16, 16),
    max_steps: int = 64,
    use_extrinsics: bool = False,
    pool_grid: tuple[int, int] | None = None,
    normalize_output: bool = True,
    key: str = "predictor",
) -> ActionConditionedPredictor:
    """Load the predictor of an official V-JEPA 2-AC checkpoint (e.g. ``vjepa2-ac-vitg.pt``).

    The file is read with ``torch.load(weights_only=True)`` (no pickled code runs).

    Args:
        path: local checkpoint file.
        num_heads: attention heads (16 for the released ViT-g predictor).
        grid: frame token grid; (16, 16) for 256px frames with patch 16.
        max_steps: the longest sequence of time steps accepted.
        use_extrinsics: add the extrinsics token (only for models trained with it).
        pool_grid: optional token pooling (the released model was trained without it).
        normalize_output: layer-norm predicted tokens (as the official training and planning).
        key: entry of the checkpoint dict holding the predictor; a bare state dict (with
            ``predictor_embed.weight``) is accepted too.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt = load_tensors(path)
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} does not hold a dict, got {type(ckpt).__name__}")
    if key in ckpt:
        sd = ckpt[key]
    elif any(k.endswith("predictor_embed.weight") for k in ckpt):
        sd = ckpt
    else:
        raise KeyError(
            f"{path} has no {key!r} entry (keys: {sorted(ckpt)[:10]}) and is not a "
            "predictor state dict"
        )
    return official_ac_predictor_from_state_dict(
        sd,
        num_heads=num_heads,
        grid=grid,
        max_steps=max_steps,
        use_extrinsics=use_extrinsics,
        pool_grid=pool_grid,
        normalize_output=normalize_output,
    )
