"""Fused, numerically stable softmax cross-entropy, averaged over the batch."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """logits (N, C); targets one-hot (N, C) or class indices (N,). Returns (loss, dL/dlogits (N, C))."""
    n = len(logits)
    z = logits - logits.max(axis=1, keepdims=True)
    ez = np.exp(z)
    sums = ez.sum(axis=1, keepdims=True)
    probs = ez / sums
    if targets.ndim == 1:
        rows = np.arange(n)
        loss = float(np.log(sums[:, 0]).sum() - z[rows, targets].sum()) / n
        probs[rows, targets] -= 1
    else:
        loss = float(np.log(sums[:, 0]).sum() - (z * targets).sum()) / n
        probs -= targets
    probs /= n
    return loss, probs


def correct(logits: np.ndarray, targets: np.ndarray) -> int:
    """How many rows of logits (N, C) have their argmax at the target (one-hot (N, C) or indices (N,))."""
    labels = targets.argmax(axis=1) if targets.ndim == 2 else targets
    return int((logits.argmax(axis=1) == labels).sum())


def accuracy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of rows of logits (N, C) whose argmax matches the target."""
    return correct(logits, targets) / len(logits)
