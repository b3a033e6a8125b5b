"""Every recipe in configs/ loads into its command's config: no misspelt or stale key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vworld.config import load_config
from vworld.eval.harness import PlanConfig
from vworld.train.pretrain import PretrainConfig
from vworld.train.train_ac import TrainACConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SCHEMAS = {"pretrain": PretrainConfig, "ac": TrainACConfig, "plan": PlanConfig}
# the keys a recipe leaves to the command line
REQUIRED = {
    "pretrain": ["data.path=videos", "out_dir=runs/enc"],
    "ac": ["encoder=runs/enc", "data.path=runs/data", "out_dir=runs/wm"],
    "plan": [],
}
RECIPES = sorted(p for kind in SCHEMAS for p in (CONFIGS / kind).glob("*.yaml"))


def test_every_kind_has_recipes():
    assert {p.parent.name for p in RECIPES} == set(SCHEMAS)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_loads(path):
    kind = path.parent.name
    cfg = load_config(SCHEMAS[kind], path, REQUIRED[kind])
    if isinstance(cfg, PlanConfig):
        cfg.validate()
        assert cfg.env.startswith("vworld/")
