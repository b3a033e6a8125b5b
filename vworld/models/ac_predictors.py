"""Every registered action-conditioned predictor, built by name.

Three families implement :class:`vworld.world_model.Predictor`:

- ``ac_*``: the V-JEPA 2-AC block-causal transformer over the encoder's tokens
  (``vworld/models/ac_predictor.py``);
- ``proprio_*``: dynamics of the robot's sensed state, decoded to tokens
  (``vworld/models/proprio_predictor.py``);
- ``latent_*``: a compact per-frame latent projected from the tokens, with action-conditioned
  dynamics and an inverse-dynamics head (``vworld/models/latent_predictor.py``).

Each registers its named architectures with a settings dataclass: the recipe keys
(``model.*``) it accepts, and ``DATA_ARGS``, the arguments the trainer fills in from the data.
"""

from __future__ import annotations

import dataclasses

from torch import nn

import vworld.models.ac_predictor
import vworld.models.latent_predictor
import vworld.models.proprio_predictor  # noqa: F401  (each registers its names)
from vworld.models.registry import create_model, list_models, model_settings

__all__ = ["ac_predictor_names", "build_ac_predictor", "predictor_settings"]


def ac_predictor_names() -> list[str]:
    """Every registered action-conditioned predictor name."""
    return list_models("ac_predictor")


def predictor_settings(name: str) -> type:
    """The settings dataclass of a registered predictor (its ``model.*`` recipe keys)."""
    known = ac_predictor_names()
    if name not in known:
        raise KeyError(f"model.name: unknown action-conditioned predictor {name!r}; known: {known}")
    settings = model_settings(name)
    assert settings is not None and dataclasses.is_dataclass(settings), name
    return settings


def build_ac_predictor(name: str, **overrides) -> nn.Module:
    """Build a named action-conditioned predictor.

    Args:
        name: a name from :func:`ac_predictor_names` (``ac_micro``, ``proprio_micro``,
            ``latent_micro``, their ``*_test`` variants, ``ac_vjepa2``).
        **overrides: the model's arguments (e.g. ``action_dim=4``); an unknown one raises
            ``TypeError`` naming the valid ones.
    """
    predictor_settings(name)  # a clear error for an unknown name
    return create_model(name, **overrides)
