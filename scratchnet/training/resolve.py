"""The train stage's recipe and model: the preset named by train.model with the train section's
keys laid over it, and the layer stack it describes."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..errors import ParamsError
from ..params.train import PRESET_KEYS
from .presets import PRESETS
from .recipe import Recipe


def resolve_recipe(section: dict[str, Any]) -> Recipe:
    """The preset's recipe with every non-null key of `section` (the validated train section) laid over it."""
    model = section["model"]
    if model == "custom":
        if not section.get("layers"):
            raise ParamsError("train.layers: model custom needs a list of layer specs")
        base = PRESETS["mlp"].replace(layers=section["layers"])
    else:
        if section.get("layers"):
            raise ParamsError(f"train.layers: only used with model custom (model is {model})")
        base = PRESETS[model]
    recipe = base.replace(**{k: section[k] for k in PRESET_KEYS if section.get(k) is not None},
                          model=model, seed=section["seed"], early_stopping=section["early_stopping"])
    processes = section.get("processes", 1)
    if processes > recipe.batch_size:
        raise ParamsError(f"train.processes: {processes} processes cannot each take a share of a batch of "
                          f"{recipe.batch_size} images (train.batch_size)")
    if processes > recipe.shards:  # each process runs one slice of a batch at least
        recipe = recipe.replace(shards=processes)
    if recipe.has_batchnorm and recipe.batch_size < 2 * recipe.shards:  # one image per slice: its variance is 0
        raise ParamsError(f"train.batch_size: batchnorm needs at least 2 images in each of the {recipe.shards} "
                          f"shards of a batch, got batch_size {recipe.batch_size}")
    return recipe


def build_model(recipe: Recipe, input_shape: tuple, n_classes: int, rng: np.random.Generator) -> nn.Sequential:
    """The recipe's layer stack for inputs (C, H, W) and n_classes; a spec that does not fit is a ParamsError."""
    try:
        return nn.build(recipe.layers, input_shape, n_classes, rng)
    except nn.SpecError as e:
        raise ParamsError(f"train.{e}" if str(e).startswith("layers") else f"train.layers: {e}") from None
