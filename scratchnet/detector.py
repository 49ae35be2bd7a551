"""Is it a digit? The rule behind each prediction's `uncertain` flag, learned and calibrated by the
detector stage (stages/detector.py) from the exported model's features.

Softmax confidence alone is a weak detector: the network is confident on shapes it never saw
(docs/predict-and-serve.md has what was measured). So the rule is learned from examples of what is
not a digit (outlier exposure): a small network, DETECTOR, reads the model's penultimate-layer features (the
input of its last dense layer) and is trained to tell training digits from drawn non-digits
(stages/negatives.py). An image is uncertain when its "not a digit" probability is above the level
that only detector.flag_rate of the held-back validation digits reach (params.yaml).

The drawn non-digits are counter-examples to digits, so the detector is built for digit datasets
only (negatives.detector: auto); for any other, the negatives stage draws nothing and the rule is
off (OFF in uncertainty.npz says why), so no clean circle of a shapes dataset is called uncertain.

predict adds a page-level rule: more than MAX_OTHER_MARKS other sizeable marks on the page (text, a
form) means it is no single digit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import nn
from .digit_datasets import OFF

MAX_OTHER_MARKS = 3  # digit pages show at most 3 (a test digit's own stray blobs), text dozens
FILE = "uncertainty.npz"
CARD = "detector-card.md"  # beside FILE: what the detector was built on
DETECTOR = [{"type": "dense", "units": 64}, {"type": "relu"}, {"type": "dense", "units": "classes"}]


def beside(export_dir) -> Path:
    """Where the detector stage puts the rule for the model exported to export_dir: the `detector`
    folder beside it (artifacts/export -> artifacts/detector/uncertainty.npz)."""
    return Path(export_dir).parent / "detector" / FILE


def _not_digit(detector: nn.Sequential, features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(N,) the detector's probability that each image (its features (N, D)) is not a digit."""
    return nn.softmax(detector.predict_logits(((features - mean) / scale).astype(np.float32)))[:, 1]


class Rule:
    """The rule from its arrays (uncertainty.npz), its detector built once: what predict and serve
    keep for every request. A missing array is a KeyError, a detector of the wrong shape a SpecError.
    A rule left off (OFF) flags nothing: `off` says why."""

    def __init__(self, cal: dict[str, np.ndarray]):
        self.off = str(cal[OFF]) if OFF in cal else None
        if self.off is not None:
            return
        self.mean, self.scale, self.threshold = cal["mean"], cal["scale"], cal["threshold"]
        weights = {k.removeprefix("detector."): v for k, v in cal.items() if k.startswith("detector.")}
        self.detector = nn.build(DETECTOR, self.mean.shape, 2, np.random.default_rng(0), weights=weights)

    def score(self, features: np.ndarray) -> np.ndarray:
        """(N,) the detector's probability that each image (its features (N, D)) is not a digit (0 when off)."""
        if self.off is not None:
            return np.zeros(len(features), np.float32)
        return _not_digit(self.detector, features, self.mean, self.scale)

    def flags(self, features: np.ndarray) -> np.ndarray:
        """(N,) bool: the model's answer should not be trusted."""
        if self.off is not None:
            return np.zeros(len(features), bool)
        return self.score(features) > self.threshold


def calibrate(digit_features: np.ndarray, negative_features: np.ndarray, val_features: np.ndarray,
              rng: np.random.Generator, *, epochs: int, batch_size: int, lr: float,
              flag_rate: float) -> dict[str, np.ndarray]:
    """Train the detector (Adam) on training digits' features (N, D) (label 0) against the
    non-digits' (M, D) (label 1), and set the threshold so that flag_rate of the validation digits'
    features are flagged: the arrays predict needs (uncertainty.npz)."""
    both = np.concatenate([digit_features, negative_features]).astype(np.float32)
    mean, scale = both.mean(axis=0), both.std(axis=0) + 1e-3
    x = (both - mean) / scale
    y = np.concatenate([np.zeros(len(digit_features), np.int64), np.ones(len(negative_features), np.int64)])
    model = nn.build(DETECTOR, (x.shape[1],), 2, rng)
    opt = nn.Adam(model.parameters(), model.gradients(), lr=lr)
    with nn.Trainer(model, opt, loss=nn.softmax_cross_entropy) as trainer:
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for i in range(0, len(x), batch_size):
                trainer.step(x[order[i:i + batch_size]], y[order[i:i + batch_size]])
    cal = {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
           **{f"detector.{k}": v.copy() for k, v in model.parameters().items()}}
    cal["threshold"] = np.array(np.quantile(_not_digit(model, val_features, mean, scale), 1 - flag_rate), np.float32)
    return cal


def flags(features: np.ndarray, cal: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) bool, for a one-off check: Rule(cal).flags(features)."""
    return Rule(cal).flags(features)
