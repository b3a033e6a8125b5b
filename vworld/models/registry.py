"""Model registry: architectures registered under names that state their spec (as in timm).

Encoders follow the ViT sizes of V-JEPA / V-JEPA 2 (``vit_giant`` is the released V-JEPA 2
ViT-g, the official ``vit_giant_xformers``: 1408 wide, 40 deep, 22 heads, MLP ratio 48/11);
``vit_micro`` is a laptop-sized recipe (64 px, patch 8, 8 frames) and ``*_test`` variants are
tiny so that one parametrised test exercises every name. An encoder is registered under the
name of its spec, ``<size>_p<patch>t<tubelet>_<image>px_<frames>f`` (``vit_micro_p8t2_64px_8f``);
the short name stays as an alias (kind ``encoder_alias``), so older recipes still load.

Public API:

- ``register_model(name, kind="encoder")``: decorator for a factory ``fn(**overrides) -> nn.Module``.
- ``create_model(name, **overrides) -> nn.Module``: overrides are the model class's keyword
  arguments; an unknown name or keyword raises with the valid choices.
- ``list_models(kind=None) -> list[str]`` and ``model_kind(name) -> str``.
- ``register_configs(cls, configs, kind, settings)``: named architectures of one class, with
  the dataclass of the settings a recipe may give them (``model_settings(name)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from vworld.models.conv_encoder import ConvEncoder
from vworld.models.predictor import MaskedPredictor
from vworld.models.vit import VisionTransformer

_REGISTRY: dict[str, tuple[Callable[..., nn.Module], str]] = {}
_CLASSES: dict[str, type[nn.Module]] = {}  # names registered by register_configs
_SETTINGS: dict[str, type] = {}  # name -> the dataclass of its recipe settings


def register_model(
    name: str, kind: str = "encoder"
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory under ``name``.

    Args:
        name: registry name (unique).
        kind: ``"encoder"``, ``"predictor"``, ``"ac_predictor"``, ... (used by tests and tools).
    """

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = (fn, kind)
        return fn

    return deco


def list_models(kind: str | None = None) -> list[str]:
    """Sorted registered names, optionally only those of one ``kind``."""
    return sorted(n for n, (_, k) in _REGISTRY.items() if kind is None or k == kind)


def model_class(name: str) -> type[nn.Module] | None:
    """The class a name registered with :func:`register_configs` builds (else None)."""
    _check_name(name)
    return _CLASSES.get(name)


def model_settings(name: str) -> type | None:
    """The dataclass of the recipe settings (``model.*``) a name registered with
    :func:`register_configs` accepts, or None."""
    _check_name(name)
    return _SETTINGS.get(name)


def model_kind(name: str) -> str:
    """The ``kind`` a model was registered with."""
    _check_name(name)
    return _REGISTRY[name][1]


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model, overriding any of its class's keyword arguments.

    Args:
        name: a name from ``list_models()``.
        **overrides: keyword arguments of the model class (checked; typos raise ``TypeError``).
    """
    _check_name(name)
    return _REGISTRY[name][0](**overrides)


def _check_name(name: str) -> None:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {list_models()}")


def build(cls: type[nn.Module], defaults: dict[str, Any], overrides: dict[str, Any]) -> nn.Module:
    """Instantiate ``cls(**{**defaults, **overrides})`` after checking every key is a parameter.

    Args:
        cls: model class with typed keyword arguments.
        defaults: the registered architecture's settings.
        overrides: user settings (win over ``defaults``).
    """
    params = inspect.signature(cls).parameters
    bad = sorted(set(overrides) - set(params))
    if bad:
        raise TypeError(f"unknown argument(s) {bad} for {cls.__name__}; valid: {sorted(params)}")
    return cls(**{**defaults, **overrides})


def register_configs(
    cls: type[nn.Module],
    configs: dict[str, dict[str, Any]],
    kind: str,
    settings: type | None = None,
    aliases: dict[str, str] | None = None,
) -> None:
    """Register each named architecture of ``configs`` as ``build(cls, defaults, overrides)``.

    Args:
        settings: a dataclass whose fields are the arguments a recipe may set (``model.*``).
        aliases: ``{old name: registered name}``, kept so that old recipes still load.
    """
    for name, defaults in {
        **configs,
        **{a: configs[n] for a, n in (aliases or {}).items()},
    }.items():

        def factory(_defaults: dict[str, Any] = defaults, **overrides: Any) -> nn.Module:
            return build(cls, _defaults, overrides)

        register_model(name, kind=kind)(factory)
        _CLASSES[name] = cls
        if settings is not None:
            _SETTINGS[name] = settings


def _vit(**defaults: Any) -> Callable[..., nn.Module]:
    def factory(**overrides: Any) -> nn.Module:
        return build(VisionTransformer, defaults, overrides)

    return factory


def _predictor(**defaults: Any) -> Callable[..., nn.Module]:
    def factory(**overrides: Any) -> nn.Module:
        return build(MaskedPredictor, defaults, overrides)

    return factory


# Encoders: (width, depth, heads[, mlp_ratio]) as in V-JEPA / V-JEPA 2, 256 px, 16 frames, p16 t2.
_ENCODERS: dict[str, dict[str, Any]] = {
    "vit_tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "vit_small": dict(embed_dim=384, depth=12, num_heads=6),
    "vit_base": dict(embed_dim=768, depth=12, num_heads=12),
    "vit_large": dict(embed_dim=1024, depth=24, num_heads=16),
    "vit_huge": dict(embed_dim=1280, depth=32, num_heads=16),
    "vit_giant": dict(embed_dim=1408, depth=40, num_heads=22, mlp_ratio=48 / 11),
    "vit_gigantic": dict(embed_dim=1664, depth=48, num_heads=26, mlp_ratio=64 / 13),
    # CPU recipe: 64 px, 8 px patches, 8 frames -> 4 x 8 x 8 = 256 tokens.
    "vit_micro": dict(embed_dim=128, depth=4, num_heads=4, patch_size=8, img_size=64, num_frames=8),
    "vit_test": dict(embed_dim=48, depth=2, num_heads=2, patch_size=8, img_size=32, num_frames=4),
    "vit_test_sincos": dict(
        embed_dim=48,
        depth=2,
        num_heads=2,
        patch_size=8,
        img_size=32,
        num_frames=4,
        pos_embed="sincos",
    ),
}

_PREDICTORS: dict[str, dict[str, Any]] = {
    # V-JEPA 2 release: 384 wide, 12 deep, 12 heads, 10 mask tokens, RoPE (encoder width 1024 = ViT-L).
    "predictor_vjepa2": dict(
        embed_dim=1024, predictor_embed_dim=384, depth=12, num_heads=12, num_mask_tokens=10
    ),
    # V-JEPA 1: 384 wide, 12 deep, heads = encoder heads (16 for ViT-L/H), sin-cos, 2 mask tokens, 224 px.
    "predictor_vjepa1": dict(
        embed_dim=1024,
        predictor_embed_dim=384,
        depth=12,
        num_heads=16,
        num_mask_tokens=2,
        pos_embed="sincos",
        img_size=224,
    ),
    "predictor_micro": dict(
        embed_dim=128,
        predictor_embed_dim=96,
        depth=4,
        num_heads=4,
        patch_size=8,
        img_size=64,
        num_frames=8,
    ),
    "predictor_test": dict(
        embed_dim=48,
        predictor_embed_dim=24,
        depth=2,
        num_heads=2,
        patch_size=8,
        img_size=32,
        num_frames=4,
    ),
}


def _spec_name(name: str, d: dict[str, Any]) -> str:
    """``vit_large`` -> ``vit_large_p16t2_256px_16f``: patch, tubelet, image size and frames."""
    patch, tubelet = d.get("patch_size", 16), d.get("tubelet_size", 2)
    return f"{name}_p{patch}t{tubelet}_{d.get('img_size', 256)}px_{d.get('num_frames', 16)}f"


# Every encoder is registered under the name that states its spec; the short name is an alias.
ENCODER_ALIASES: dict[str, str] = {n: _spec_name(n, d) for n, d in _ENCODERS.items()}
for _name, _defaults in _ENCODERS.items():
    register_model(ENCODER_ALIASES[_name], kind="encoder")(_vit(**_defaults))
    register_model(_name, kind="encoder_alias")(_vit(**_defaults))
for _name, _defaults in _PREDICTORS.items():
    register_model(_name, kind="predictor")(_predictor(**_defaults))

# Image encoders trained end to end with a compact-latent world model (``vworld train-ac
# encoder=scratch:<name> latent.finetune_encoder=true``); V-JEPA cannot pretrain them.
IMAGE_ENCODERS: dict[str, dict[str, Any]] = {
    # 64 px -> 8 x 8 tokens of 64, 77k parameters (0.7 s forward and backward for 768 frames
    # on 2 CPU cores; widths (32, 64, 64) take 1.7 s).
    "conv_micro": dict(embed_dim=64, channels=(16, 32, 64), patch_size=8, img_size=64),
    "conv_test": dict(embed_dim=16, channels=(8, 16), patch_size=4, img_size=32),
}
register_configs(ConvEncoder, IMAGE_ENCODERS, kind="image_encoder")
