"""Weight initialisers. Shapes: dense (in, out), conv (out, in, kh, kw); biases start at zero."""

from __future__ import annotations

import math

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) for a dense (in, out) or conv (out, in, kh, kw) weight."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"no fan rule for weight shape {shape}")


def _scale(name: str, fan_in: int, fan_out: int) -> float:
    if name.startswith("he"):
        return 2.0 / fan_in
    return 2.0 / (fan_in + fan_out)  # xavier / glorot


def initialise(name: str, shape: tuple[int, ...], rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Draw a weight of `shape` with `name` in he_normal, he_uniform, xavier_normal, xavier_uniform."""
    if name not in INITIALISERS:
        raise ValueError(f"unknown initialiser {name!r}; allowed: {', '.join(INITIALISERS)}")
    variance = _scale(name, *fans(shape))
    if name.endswith("normal"):
        w = rng.normal(0.0, math.sqrt(variance), size=shape)
    else:
        limit = math.sqrt(3.0 * variance)  # uniform(-a, a) has variance a^2 / 3
        w = rng.uniform(-limit, limit, size=shape)
    return w.astype(dtype)


INITIALISERS = ("he_normal", "he_uniform", "xavier_normal", "xavier_uniform")
