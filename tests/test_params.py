"""Every param has one home, its section's declaration (scratchnet/params/<section>.py): the docs'
table, params.yaml's keys, the presets and the stage functions all follow it."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

import pytest
import yaml

from scratchnet.errors import ParamsError
from scratchnet.params import reference
from scratchnet.params.schema import SECTIONS
from scratchnet.params.sections import ALL, load_all
from scratchnet.params.train import PRESET_KEYS
from scratchnet.params.train import SECTION as TRAIN
from scratchnet.training.presets import PRESETS
from scratchnet.training.recipe import Recipe, RecipeError
from tests.support.repo import ROOT

STAGE_FUNCTIONS = {stage: getattr(importlib.import_module(f"stages.{stage}"), stage) for stage in SECTIONS}


def test_the_readme_params_table_is_generated_from_the_schema():
    readme = (ROOT / "docs/params.md").read_text(encoding="utf-8")
    assert reference.with_table(readme) == readme, "run `python -m scratchnet.params.reference --write docs/params.md`"


def test_the_table_check_sees_a_stale_row():
    readme = (ROOT / "docs/params.md").read_text(encoding="utf-8")
    stale = readme.replace("| `export.opset` | `15` |", "| `export.opset` | `12` |")
    assert stale != readme and reference.with_table(stale) != stale


def test_params_yaml_holds_exactly_the_schema_keys():
    doc = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    assert {s: sorted(v) for s, v in doc.items()} == {s: sorted(section.fields) for s, section in ALL.items()}
    assert list(doc) == list(SECTIONS)  # in pipeline order
    load_all(ROOT / "params.yaml")  # and every value is valid


def test_a_recipe_holds_exactly_the_preset_keys_and_the_run_settings():
    assert [f.name for f in dataclasses.fields(Recipe)] == ["layers", *PRESET_KEYS, "model", "seed", "early_stopping"]
    for name, recipe in PRESETS.items():
        assert recipe.model == name
        TRAIN.validate({k: getattr(recipe, k) for k in PRESET_KEYS})  # every preset value is valid


@pytest.mark.parametrize("build, message", [
    (lambda: PRESETS["mlp"].replace(lrr=0.1), "recipe.lrr: unknown key (did you mean 'lr'?)"),
    (lambda: PRESETS["mlp"].replace(epochs="ten"), "recipe.epochs: got 'ten', expected int"),
    (lambda: PRESETS["mlp"].replace(clip_norm=True), "recipe.clip_norm: got True, expected float or None"),
    (lambda: Recipe.of({"layers": []}), "recipe: missing epochs, batch_size"),
])
def test_a_recipe_refuses_an_unknown_or_mistyped_key_where_it_is_built(build, message):
    with pytest.raises(RecipeError, match=re.escape(message)):
        build()


def test_a_recipe_is_frozen_and_stores_floats_as_floats():
    recipe = PRESETS["mlp"].replace(lr=1)
    assert recipe.lr == 1.0 and isinstance(recipe.lr, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.lr = 0.5


@pytest.mark.parametrize("stage", list(SECTIONS))
def test_stage_functions_take_keyword_arguments_and_their_settings_from_the_schema(stage):
    signature = inspect.signature(STAGE_FUNCTIONS[stage])
    kinds = [p.kind for p in signature.parameters.values()]
    assert set(kinds) == {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD}, signature
    # no setting has a default written in the function: the schema's are the only ones
    assert not set(signature.parameters) & set(ALL[stage].fields), signature
    with pytest.raises(ParamsError, match=f"{stage}.not_a_key: unknown key"):
        STAGE_FUNCTIONS[stage](**{p: "unused" for p in signature.parameters if p not in ("settings", "log")},
                               not_a_key=1)
