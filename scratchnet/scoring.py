"""Scores of a classifier's answers: the confusion matrix and per-class precision, recall and F1,
and the training history they are read beside."""

from __future__ import annotations

import numpy as np


def confusion(labels: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """(k, k) int64 counts: row the true class, column the predicted one, of labels and predicted (N,),
    both in [0, k) (int64 here, so labels * k cannot wrap in a narrower type)."""
    return np.bincount(np.asarray(labels, np.int64) * k + np.asarray(predicted, np.int64), minlength=k * k).reshape(k, k)


def per_class_scores(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, f1, support), each (k,), from a (k, k) confusion matrix; 0 where a class
    was never predicted or never present. F1 is 2 tp / (support + predicted), which equals 2PR / (P + R)
    and is how scikit-learn computes it (tests hold the two equal to round-off). NumPy rather than sklearn.metrics,
    whose import alone costs more than the whole computation."""
    tp = np.diag(counts).astype(np.float64)
    support, predicted = counts.sum(1), counts.sum(0)

    def ratio(num, den):
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return ratio(tp, predicted), ratio(tp, support), ratio(2 * tp, (support + predicted).astype(np.float64)), support
