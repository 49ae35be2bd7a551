"""Layer specs, the mappings a model is written in ({type: dense, units: 64}): the error they raise,
what a layer is built with, and the checks every layer's `from_spec` shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .init import INITIALISERS


class SpecError(ValueError):
    """A layer spec is malformed or the stack's shapes do not fit."""


@dataclass(frozen=True)
class Context:
    """What build() hands each layer's from_spec besides its spec and input shape.

    weights: the layer's own saved arrays, keyed without its position ("W", "mean"), or None for
    fresh ones; share: use them as they are (a replica) instead of copying them."""

    num_classes: int
    rng: np.random.Generator
    dtype: Any = np.float32
    weights: dict[str, np.ndarray] | None = None
    share: bool = False

    def given(self, want: dict[str, tuple]) -> dict[str, np.ndarray] | None:
        """The saved arrays, checked against the shapes the spec implies before anything is
        allocated (so a hostile manifest cannot make the loader allocate), or None."""
        if self.weights is None:
            return None
        for name, shape in want.items():
            if name not in self.weights or tuple(self.weights[name].shape) != shape:
                got = tuple(self.weights[name].shape) if name in self.weights else "nothing"
                raise SpecError(f"parameter {name} should be {shape}, the arrays hold {got}")
        return {name: self.weights[name] for name in want}


def integer(spec: dict, key: str, default: Any = None, low: int = 1) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{key}: expected an integer >= {low}, got {value!r}")
    return value


def fraction(spec: dict, key: str, default: float, *, low_open: bool = False, high_closed: bool = False) -> float:
    """A number in [0, 1) (or (0, 1], per the flags)."""
    value = spec.get(key, default)
    low_ok = (lambda v: v > 0) if low_open else (lambda v: v >= 0)
    high_ok = (lambda v: v <= 1) if high_closed else (lambda v: v < 1)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low_ok(value) and high_ok(value)):
        interval = f"{'(' if low_open else '['}0, 1{']' if high_closed else ')'}"
        raise SpecError(f"{key}: expected a number in {interval}, got {value!r}")
    return float(value)


def init_name(spec: dict) -> str:
    name = spec.get("init", "he_normal")
    if name not in INITIALISERS:
        raise SpecError(f"init: got {name!r}, allowed: {', '.join(INITIALISERS)}")
    return name


def shape_of(kind: str, shape: tuple[int, ...], ranks: tuple[int, ...], what: str) -> None:
    """Refuse an input whose rank is not one of `ranks`; `what` names the shape wanted."""
    if len(shape) not in ranks:
        raise SpecError(f"{kind} needs {what} but gets {shape}")
