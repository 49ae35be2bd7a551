"""A training recipe: the preset named by train.model with the train section's keys laid over it."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..errors import ParamsError
from ..params.train import PRESET_KEYS
from .presets import PRESETS


def resolve_recipe(section: dict[str, Any]) -> dict[str, Any]:
    """The preset's recipe with every non-null key of `section` (the validated train section) laid over it."""
    model = section["model"]
    if model == "custom":
        if not section.get("layers"):
            raise ParamsError("train.layers: model custom needs a list of layer specs")
        recipe = {**PRESETS["mlp"], "layers": section["layers"]}
    else:
        if section.get("layers"):
            raise ParamsError(f"train.layers: only used with model custom (model is {model})")
        recipe = dict(PRESETS[model])
    recipe.update({k: section[k] for k in PRESET_KEYS if section.get(k) is not None})
    recipe.update(model=model, seed=section["seed"], early_stopping=section["early_stopping"])
    if has_batchnorm(recipe) and recipe["batch_size"] < 2 * recipe["shards"]:  # one image per slice: its variance is 0
        raise ParamsError(f"train.batch_size: batchnorm needs at least 2 images in each of the {recipe['shards']} "
                          f"shards of a batch, got batch_size {recipe['batch_size']}")
    return recipe


def has_batchnorm(recipe: dict) -> bool:
    return any(isinstance(spec, dict) and spec.get("type") == "batchnorm" for spec in recipe["layers"])


def build_model(recipe: dict, input_shape: tuple, n_classes: int, rng: np.random.Generator) -> nn.Sequential:
    """The recipe's layer stack for inputs (C, H, W) and n_classes; a spec that does not fit is a ParamsError."""
    try:
        return nn.build(recipe["layers"], input_shape, n_classes, rng)
    except nn.SpecError as e:
        raise ParamsError(f"train.{e}" if str(e).startswith("layers") else f"train.layers: {e}") from None
