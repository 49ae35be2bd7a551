"""A training recipe: the layer stack and every setting the training loop reads, as one typed,
frozen object. A preset is a Recipe (presets.py); the train stage's recipe is a preset with the
train section's keys laid over it (resolve.py)."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParamsError


class RecipeError(ParamsError):
    """A recipe was built with a key it does not have, or a value of the wrong type."""


@dataclass(frozen=True)
class Recipe:
    """How a model is trained. The fields from `epochs` to `shards` are the keys a preset sets
    (the train section's `preset` fields in scratchnet/params/train.py; tests hold the two lists
    equal); `model`, `seed` and `early_stopping` come from the run."""

    layers: list[dict]  # layer specs, as params.yaml writes them
    epochs: int
    batch_size: int
    optimizer: str
    lr: float  # at the first epoch
    momentum: float
    weight_decay: float  # L2 on the parameters whose role is "weight"
    schedule: str  # how lr moves from epoch to epoch
    lr_decay: float
    step_size: int
    clip_dz: float | None  # clip the gradient between layers to [-clip_dz, clip_dz]
    clip_value: float | None  # clip every parameter gradient element
    clip_norm: float | None  # scale the gradients to a joint L2 norm of at most this
    augment_rotate: float  # degrees either way
    augment_scale: float  # a fraction either way
    augment_shift: int  # pixels either way
    shards: int  # slices of each batch trained at once on threads
    model: str = field(default="custom")  # the preset's name, or custom
    seed: int = 0
    early_stopping: int = 0  # epochs without improvement before stopping; 0: off

    def __post_init__(self):
        for name, kind in typing.get_type_hints(Recipe).items():
            value = getattr(self, name)
            allowed = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
            allowed = tuple(typing.get_origin(a) or a for a in allowed)
            if float in allowed and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)  # 0 for 0.0: the same number, stored as the type says
                object.__setattr__(self, name, value)
            if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
                names = " or ".join("None" if a is type(None) else a.__name__ for a in allowed)
                raise RecipeError(f"recipe.{name}: got {value!r}, expected {names}")

    @classmethod
    def of(cls, keys: dict[str, Any]) -> Recipe:
        """A recipe from a mapping, every key named in the error if one is unknown or missing."""
        _known(keys)
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in keys and f.default is dataclasses.MISSING]
        if missing:
            raise RecipeError(f"recipe: missing {', '.join(missing)}")
        return cls(**keys)

    def replace(self, **changes: Any) -> Recipe:
        """This recipe with `changes` laid over it (unknown keys refused by name)."""
        _known(changes)
        return dataclasses.replace(self, **changes)

    @property
    def has_batchnorm(self) -> bool:
        return any(isinstance(spec, dict) and spec.get("type") == "batchnorm" for spec in self.layers)

    def manifest(self) -> dict[str, Any]:
        """Every setting but the layers (which the model file holds as its architecture), in field order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "layers"}


def _known(keys: dict[str, Any]) -> None:
    names = [f.name for f in dataclasses.fields(Recipe)]
    for key in keys:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            raise RecipeError(f"recipe.{key}: unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
                              + f"; a recipe has {', '.join(names)}")
