"""Shared fixtures for trainer tests: a tiny collected Reach dataset and a tiny encoder."""

import pytest
import torch

from vworld.config import load_config
from vworld.data.collect import CollectConfig, collect
from vworld.encoders import export_encoder
from vworld.models.registry import create_model


@pytest.fixture(scope="session")
def reach_log(tmp_path_factory):
    out = tmp_path_factory.mktemp("reach") / "data"
    cfg = load_config(
        CollectConfig,
        overrides=[f"out_dir={out}", "episodes=12", "steps=60", "workers=0", "seed=3"],
    )
    return collect(cfg)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory):
    """A randomly initialised ``vit_test`` exported like a pretraining run's encoder."""
    out = tmp_path_factory.mktemp("encoder")
    torch.manual_seed(0)
    kwargs = {"img_size": 64, "num_frames": 2}
    export_encoder(out, create_model("vit_test", **kwargs), "vit_test", kwargs)
    return out
