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
    required = REQUIRED[kind]
    if any(line.startswith("encoder:") for line in path.read_text().splitlines()):
        required = [a for a in required if not a.startswith("encoder=")]  # the recipe names it
    cfg = load_config(SCHEMAS[kind], path, required)
    if isinstance(cfg, PlanConfig):
        cfg.validate()
        assert cfg.env.startswith(("vworld/", "swm/"))


def test_a_bad_value_names_the_recipe_file_or_the_override(tmp_path):
    from vworld.config import ConfigError

    recipe = tmp_path / "my-plan.yaml"
    recipe.write_text("cost:\n  cost_type: l3\n")
    with pytest.raises(ConfigError, match=r"my-plan\.yaml: cost\.cost_type must be one of"):
        load_config(PlanConfig, recipe)
    with pytest.raises(ConfigError, match=r"^override 'cost\.cost_on=first'"):
        load_config(PlanConfig, recipe, ["cost.cost_type=l1", "cost.cost_on=first"])
    # a check across two keys names the file that set one of them
    ac = tmp_path / "my-ac.yaml"
    ac.write_text("train:\n  rollout_steps: 9\n")
    with pytest.raises(ConfigError, match=r"my-ac\.yaml.*train\.rollout_steps=9"):
        load_config(TrainACConfig, ac, REQUIRED["ac"])
