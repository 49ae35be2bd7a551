"""A model from layer specs: each spec's `type` names a registered layer class (layers.LAYERS),
which builds itself from the rest of the spec."""

from __future__ import annotations

import numpy as np

from .layers import LAYERS, Layer
from .model import Sequential
from .spec import Context, SpecError


def make(spec: dict, shape: tuple[int, ...], ctx: Context) -> Layer:
    """The layer `spec` describes, for per-sample input `shape`; unknown kinds and keys are SpecErrors."""
    kind = spec.get("type")
    cls = LAYERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise SpecError(f"type: got {kind!r}, allowed: {', '.join(LAYERS)}")
    unknown = set(spec) - cls.spec_keys - {"type"}
    if unknown:
        raise SpecError(f"{sorted(unknown)[0]}: unknown key for {kind}; allowed: {', '.join(sorted(cls.spec_keys)) or 'none'}")
    return cls.from_spec(spec, shape, ctx)


def build(specs: list[dict], input_shape: tuple[int, ...], num_classes: int,
          rng: np.random.Generator, dtype=np.float32, weights: dict[str, np.ndarray] | None = None,
          share_weights: bool = False, compile: bool = True) -> Sequential:
    """Build a model for per-sample `input_shape` (C, H, W) whose output is (num_classes,) logits,
    compiled to its fast plan unless `compile` is False (the reference path, for tests).

    With `weights` (qualified name -> array, as saved), layers take those arrays instead of fresh
    ones; every shape is checked first, so a hostile manifest cannot make it allocate anything.
    They are copied into the model's own flat buffer, or, with `share_weights`, used as they are.
    """
    if not isinstance(specs, list) or not specs:
        raise SpecError("layers: expected a non-empty list of layer specs")
    layers, shape = [], tuple(input_shape)
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise SpecError(f"layers[{i}]: expected a mapping like {{type: dense, units: 64}}, got {spec!r}")
        try:
            mine = None if weights is None else {k[len(f"{i}."):]: v for k, v in weights.items() if k.startswith(f"{i}.")}
            layer = make(spec, shape, Context(num_classes, rng, dtype, mine, share_weights))
            shape = layer.out_shape(shape)
        except (SpecError, ValueError) as e:
            raise SpecError(f"layers[{i}] ({spec.get('type')}): {e}") from None
        layers.append(layer)
    if shape != (num_classes,):
        raise SpecError(f"layers: the stack outputs {shape} but the data has {num_classes} classes; "
                        "end with {type: dense, units: classes}")
    model = Sequential(layers, input_shape, share_params=share_weights)
    return model.compile() if compile else model
