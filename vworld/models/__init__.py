"""vworld models: V-JEPA tubelet ViT encoder, conv image encoder, masked predictor, registry, official-weight loaders."""

from vworld.models.ac_predictor import ActionConditionedPredictor
from vworld.models.ac_predictors import build_ac_predictor
from vworld.models.conv_encoder import ConvEncoder
from vworld.models.official import (
    convert_official_state_dict,
    load_official_encoder,
    load_official_predictor,
)
from vworld.models.predictor import MaskedPredictor
from vworld.models.proprio_predictor import ProprioLatentPredictor
from vworld.models.registry import create_model, list_models, model_kind, register_model
from vworld.models.vit import VisionTransformer

__all__ = [
    "ActionConditionedPredictor",
    "ConvEncoder",
    "MaskedPredictor",
    "ProprioLatentPredictor",
    "VisionTransformer",
    "build_ac_predictor",
    "convert_official_state_dict",
    "create_model",
    "list_models",
    "load_official_encoder",
    "load_official_predictor",
    "model_kind",
    "register_model",
]
