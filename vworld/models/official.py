"""Load official V-JEPA (facebookresearch/jepa) and V-JEPA 2 (facebookresearch/vjepa2) weights.

Checkpoints are local ``.pt`` files read with ``torch.load(weights_only=True)``: a dict with
``"encoder"``, ``"target_encoder"`` and ``"predictor"`` state dicts (keys prefixed by
``module.`` and ``backbone.`` from DDP and the multi-mask wrapper), or a bare state dict.
vworld's modules use the official parameter names, so conversion only strips prefixes.
The architecture is inferred from tensor shapes: width and input channels, tubelet and patch
size from ``patch_embed.proj.weight``, depth from the block count, MLP ratio from ``fc1``,
qkv bias from its presence, number of mask tokens from ``mask_tokens.{i}``. Head counts are not
visible in shapes: encoders use the standard table (``HEADS_BY_WIDTH``), predictors head width
32 for RoPE (V-JEPA 2: 384 / 12) and 24 for sin-cos (V-JEPA 1: 384 / 16); pass ``num_heads``
to override.

Positions (``pos_embed="auto"``): RoPE when the state dict has no position table; V-JEPA 2
releases keep an unused ``pos_embed`` tensor, so a file whose predictor has more than two mask
tokens (the V-JEPA 2 release has ten) is also read as RoPE; otherwise, a stored table that is a
3D sin-cos table (either channel split, on some ``(t, h, w)`` grid) means sin-cos (V-JEPA 1),
and anything else RoPE. Pass ``pos_embed="rope"`` or ``"sincos"`` when you know.

Public API:

- ``convert_official_state_dict(sd) -> dict`` (pure: strips ``module.``/``backbone.``/
  ``_orig_mod.`` prefixes).
- ``load_official_encoder(path, key="target_encoder", pos_embed="auto", num_heads=None,
  img_size=None, num_frames=None) -> VisionTransformer``
- ``load_official_predictor(path, key="predictor", pos_embed="auto", num_heads=None,
  img_size=None, num_frames=None, tubelet_size=2, patch_size=16) -> MaskedPredictor``
- ``infer_encoder_config(sd)``, ``infer_predictor_config(sd)`` -> keyword dicts.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from vworld.files import load_tensors
from vworld.layers.pos_embed import sincos_3d
from vworld.models.predictor import MaskedPredictor
from vworld.models.vit import VisionTransformer

_PREFIXES = ("module.", "backbone.", "_orig_mod.")
HEADS_BY_WIDTH = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 22, 1664: 26}


def convert_official_state_dict(sd: dict[str, Tensor]) -> dict[str, Tensor]:
    """Official key names -> vworld key names (strip wrapper prefixes, keep tensors).

    Args:
        sd: an official encoder or predictor state dict.
    """
    out: dict[str, Tensor] = {}
    for key, val in sd.items():
        new = key
        stripped = True
        while stripped:
            stripped = False
            for p in _PREFIXES:
                if new.startswith(p):
                    new, stripped = new[len(p) :], True
        if new in out:
            raise ValueError(f"keys collide after stripping prefixes: {new!r}")
        out[new] = val
    return out


def _read(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt = load_tensors(path)
    if not isinstance(ckpt, dict):
        raise ValueError(f"{path} holds a {type(ckpt).__name__}, expected a dict")
    return ckpt


def _select(
    ckpt: dict[str, Any], key: str | None, path: str | Path, needle: str
) -> dict[str, Tensor]:
    if key is not None and key in ckpt and isinstance(ckpt[key], dict):
        return convert_official_state_dict(ckpt[key])
    if any(isinstance(v, Tensor) and needle in k for k, v in ckpt.items()):
        return convert_official_state_dict(ckpt)  # a bare state dict
    raise KeyError(
        f"{path} has no state dict under key {key!r} (top-level keys: {sorted(ckpt)[:20]})"
    )


def _depth(sd: dict[str, Tensor], prefix: str) -> int:
    ids = {int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.(\d+)\.", k))}
    if not ids or ids != set(range(len(ids))):
        raise ValueError(f"blocks '{prefix}.N.' missing or not contiguous: {sorted(ids)}")
    return len(ids)


def _sincos_match(table: Tensor, dim: int) -> tuple[tuple[int, int, int], bool] | None:
    """Find the (square-frame) grid and channel split whose sin-cos table equals ``table``."""
    n = table.shape[0]
    table = table.float()
    for side in range(1, math.isqrt(n) + 1):
        if n % (side * side):
            continue
        grid = (n // (side * side), side, side)
        for uniform in (False, True):
            try:
                ref = sincos_3d(dim, grid, uniform)
            except ValueError:
                continue
            if torch.allclose(ref, table, atol=1e-4):
                return grid, uniform
    return None


def _resolve_pos(
    pos_embed: str, table: Tensor | None, ckpt: dict[str, Any], dim: int
) -> tuple[str, tuple[tuple[int, int, int], bool] | None]:
    if pos_embed not in ("auto", "rope", "sincos"):
        raise ValueError(f"pos_embed must be auto/rope/sincos, got {pos_embed!r}")
    match = _sincos_match(table[0], dim) if table is not None and table.ndim == 3 else None
    if pos_embed == "sincos" and table is None:
        raise ValueError("pos_embed='sincos' but the checkpoint has no position table")
    if pos_embed != "auto":
        return pos_embed, match
    if table is None:
        return "rope", None
    pred = ckpt.get("predictor")
    if isinstance(pred, dict):
        n_tok = sum(
            1 for k in convert_official_state_dict(pred) if re.fullmatch(r"mask_tokens\.\d+", k)
        )
        if n_tok > 2:
            return "rope", match
    return ("sincos", match) if match is not None else ("rope", None)


def infer_encoder_config(sd: dict[str, Tensor], num_heads: int | None = None) -> dict[str, Any]:
    """``VisionTransformer`` keyword arguments implied by a (converted) encoder state dict.

    Args:
        sd: converted encoder state dict.
        num_heads: attention heads (default: ``HEADS_BY_WIDTH`` or width / 64).
    """
    if "patch_embed.proj.weight" not in sd:
        raise KeyError("encoder state dict lacks 'patch_embed.proj.weight'")
    w = sd["patch_embed.proj.weight"]
    if w.ndim != 5:
        raise ValueError(
            f"patch_embed.proj.weight must be a Conv3d weight (5D), got {tuple(w.shape)}"
        )
    dim, in_chans, tubelet, patch, _ = w.shape
    hidden = sd["blocks.0.mlp.fc1.weight"].shape[0]
    return dict(
        embed_dim=dim,
        in_chans=in_chans,
        tubelet_size=tubelet,
        patch_size=patch,
        depth=_depth(sd, "blocks"),
        num_heads=num_heads or HEADS_BY_WIDTH.get(dim, dim // 64),
        mlp_ratio=hidden / dim,
        qkv_bias="blocks.0.attn.qkv.bias" in sd,
    )


def infer_predictor_config(
    sd: dict[str, Tensor], num_heads: int | None = None, rope: bool = True
) -> dict[str, Any]:
    """``MaskedPredictor`` keyword arguments implied by a (converted) predictor state dict.

    Args:
        sd: converted predictor state dict.
        num_heads: attention heads (default: head width 32 with RoPE, 24 with sin-cos).
        rope: whether the predictor uses RoPE (sets the default head count).
    """
    if "predictor_embed.weight" not in sd:
        raise KeyError("predictor state dict lacks 'predictor_embed.weight'")
    pdim, dim = sd["predictor_embed.weight"].shape
    n_tok = sum(1 for k in sd if re.fullmatch(r"mask_tokens\.\d+", k))
    if n_tok == 0:
        raise ValueError("predictor has no mask tokens (diffusion predictors are not supported)")
    hidden = sd["predictor_blocks.0.mlp.fc1.weight"].shape[0]
    return dict(
        embed_dim=dim,
        predictor_embed_dim=pdim,
        depth=_depth(sd, "predictor_blocks"),
        num_heads=num_heads or pdim // (32 if rope else 24),
        mlp_ratio=hidden / pdim,
        qkv_bias="predictor_blocks.0.attn.qkv.bias" in sd,
        num_mask_tokens=n_tok,
    )


def _grid_kwargs(
    match: tuple[tuple[int, int, int], bool] | None,
    img_size: int | None,
    num_frames: int | None,
    tubelet: int,
    patch: int,
) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if match is not None:
        (t, h, _), uniform = match
        kw.update(img_size=h * patch, num_frames=t * tubelet, uniform_power=uniform)
    if img_size is not None:
        kw["img_size"] = img_size
    if num_frames is not None:
        kw["num_frames"] = num_frames
    return kw


def load_official_encoder(
    path: str | Path,
    key: str = "target_encoder",
    pos_embed: str = "auto",
    num_heads: int | None = None,
    img_size: int | None = None,
    num_frames: int | None = None,
) -> VisionTransformer:
    """Build a ``VisionTransformer`` from an official V-JEPA / V-JEPA 2 checkpoint, in eval mode.

    Args:
        path: local ``.pt`` file.
        key: ``"target_encoder"`` (EMA, used for features) or ``"encoder"``.
        pos_embed: ``"auto"``, ``"rope"`` (V-JEPA 2) or ``"sincos"`` (V-JEPA 1).
        num_heads: attention heads, if not the standard one for the width.
        img_size: init frame size (defaults to the stored table's grid, else 256).
        num_frames: init clip length (defaults to the stored table's grid, else 16).
    """
    ckpt = _read(path)
    sd = _select(ckpt, key, path, "patch_embed.proj.weight")
    cfg = infer_encoder_config(sd, num_heads)
    kind, match = _resolve_pos(pos_embed, sd.get("pos_embed"), ckpt, cfg["embed_dim"])
    cfg.update(_grid_kwargs(match, img_size, num_frames, cfg["tubelet_size"], cfg["patch_size"]))
    model = VisionTransformer(pos_embed=kind, **cfg)
    if kind == "rope":
        sd.pop("pos_embed", None)
    _load(model, sd, path, key)
    return model.eval()


def load_official_predictor(
    path: str | Path,
    key: str = "predictor",
    pos_embed: str = "auto",
    num_heads: int | None = None,
    img_size: int | None = None,
    num_frames: int | None = None,
    tubelet_size: int = 2,
    patch_size: int = 16,
) -> MaskedPredictor:
    """Build a ``MaskedPredictor`` from an official V-JEPA / V-JEPA 2 checkpoint, in eval mode.

    Args:
        path: local ``.pt`` file.
        key: entry holding the predictor state dict.
        pos_embed: ``"auto"``, ``"rope"`` (V-JEPA 2) or ``"sincos"`` (V-JEPA 1).
        num_heads: attention heads (default: head width 32 with RoPE, 24 with sin-cos).
        img_size: init frame size (defaults to the stored table's grid, else 256).
        num_frames: init clip length (defaults to the stored table's grid, else 16).
        tubelet_size: the encoder's tubelet size (not stored in predictor weights).
        patch_size: the encoder's patch size (not stored in predictor weights).
    """
    ckpt = _read(path)
    sd = _select(ckpt, key, path, "predictor_embed.weight")
    pdim = sd["predictor_embed.weight"].shape[0] if "predictor_embed.weight" in sd else 0
    kind, match = _resolve_pos(pos_embed, sd.get("predictor_pos_embed"), ckpt, pdim)
    cfg = infer_predictor_config(sd, num_heads, rope=kind == "rope")
    cfg.update(_grid_kwargs(match, img_size, num_frames, tubelet_size, patch_size))
    model = MaskedPredictor(pos_embed=kind, tubelet_size=tubelet_size, patch_size=patch_size, **cfg)
    if kind == "rope":
        sd.pop("predictor_pos_embed", None)
    _load(model, sd, path, key)
    return model.eval()


def _load(model: torch.nn.Module, sd: dict[str, Tensor], path: str | Path, key: str) -> None:
    own = model.state_dict()
    for name in ("pos_embed", "predictor_pos_embed"):
        if name in sd and name in own and sd[name].shape != own[name].shape:
            raise ValueError(
                f"{path}[{key}].{name} has shape {tuple(sd[name].shape)} but the "
                f"model expects {tuple(own[name].shape)}; pass img_size/num_frames of the training run"
            )
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{path}[{key}] does not match the inferred architecture: "
            f"missing {missing[:10]}, unexpected {unexpected[:10]}"
        )
