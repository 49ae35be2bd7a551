"""Numerical gradient checks by central differences (use float64 and tiny shapes)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """d f() / d x, perturbing x in place one element at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||) over the whole array.

    Taken over the array rather than element by element, because an entry whose true gradient is
    ~1e-7 carries the central difference's ~1e-12 round-off as a 1e-5 relative error on its own.
    """
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def check_layer(layer, x: np.ndarray, rng: np.random.Generator, *, train: bool = False) -> dict[str, float]:
    """Relative errors of the analytic input and parameter gradients of `layer` at `x`.

    The scalar checked is sum(forward(x) * r) for a fixed random r, so every output matters. The
    analytic pass runs in training mode, as backward always does; the numeric one in inference mode,
    which computes the same function for every layer but dropout and batchnorm (pass train=True:
    batchnorm's training function is the one backward differentiates).
    """
    y = layer.forward(x, train=train)
    r = rng.standard_normal(y.shape)

    def f():
        return float((layer.forward(x, train=train) * r).sum())

    layer.forward(x, train=True)
    dx = layer.backward(r)
    errors = {"x": rel_error(dx, numeric_grad(f, x))}
    for name, p in layer.params.items():
        errors[name] = rel_error(layer.grads[name].copy(), numeric_grad(f, p))
    return errors
