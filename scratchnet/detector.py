"""Is it a digit? The rule behind each prediction's `uncertain` flag, learned and calibrated by the
detector stage (stages/detector.py).

Softmax confidence alone is a weak detector: the network is confident on shapes it never saw
(docs/predict-and-serve.md has what was measured). So the rule is learned from examples of what is
not a digit (outlier exposure: Hendrycks et al., 2019) against examples of what is: training digits
as the model sees them, the same digits photographed and read back, and digits printed in fonts.
The non-digits are drawn and printed letters, symbols, strings of digits and clutter
(stages/negatives.py). Two small networks learn it, each from its own view, and vote:

- IMAGE_DETECTOR, a small CNN on the 28x28 image itself: the shape of the marks;
- FEATURE_DETECTOR, an MLP on the model's penultimate-layer features (the input of its last dense
  layer) beside the image's pixels, standardised: what the model itself makes of the picture.

The score is the sum of their log-odds that the picture is no digit; an image is uncertain when its
score is above the level that only detector.flag_rate of the held-back validation digits reach
(params.yaml). The two views err differently: alone, the CNN doubts more of the digits unlike
MNIST's (photographed, printed), the MLP passes more letters and symbols in an unseen hand; summed,
they reach the targets of bench/open_set.py that neither reaches alone.

The non-digits are counter-examples to digits, so the detector is built for digit datasets only
(negatives.detector: auto); for any other, the negatives stage draws nothing and the rule is off
(OFF in uncertainty.npz says why), so no clean circle of a shapes dataset is called uncertain.

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
IMAGE_DETECTOR = [
    {"type": "conv2d", "filters": 16, "kernel": 3, "padding": 1}, {"type": "relu"}, {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 32, "kernel": 3, "padding": 1}, {"type": "relu"}, {"type": "maxpool2d", "size": 2},
    {"type": "flatten"}, {"type": "dense", "units": 64}, {"type": "relu"}, {"type": "dense", "units": "classes"},
]
FEATURE_DETECTOR = [{"type": "dense", "units": 128}, {"type": "relu"}, {"type": "dense", "units": "classes"}]
IMAGE, FEATURES = "image.", "features."  # the prefixes of each network's arrays in uncertainty.npz


def beside(export_dir) -> Path:
    """Where the detector stage puts the rule for the model exported to export_dir: the `detector`
    folder beside it (artifacts/export -> artifacts/detector/uncertainty.npz)."""
    return Path(export_dir).parent / "detector" / FILE


def _joined(images: np.ndarray, features: np.ndarray) -> np.ndarray:
    """(N, D + H * W) float32: the model's features (N, D) beside the pixels of images (N, H, W)."""
    return np.concatenate([features, images.reshape(len(images), -1)], axis=1).astype(np.float32)


def _log_odds(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """(N,) log p(no digit) - log p(digit) of a two-class network on x."""
    z = model.predict_logits(x)
    return (z[:, 1] - z[:, 0]).astype(np.float32)


class Rule:
    """The rule from its arrays (uncertainty.npz), its two networks built once: what predict and serve
    keep for every request. A missing array is a KeyError, a network of the wrong shape a SpecError.
    A rule left off (OFF) flags nothing: `off` says why."""

    def __init__(self, cal: dict[str, np.ndarray]):
        self.off = str(cal[OFF]) if OFF in cal else None
        if self.off is not None:
            return
        self.mean, self.scale, self.threshold = cal["mean"], cal["scale"], cal["threshold"]
        rng = np.random.default_rng(0)  # unused: every weight is given

        def part(prefix):
            return {k.removeprefix(prefix): v for k, v in cal.items() if k.startswith(prefix)}
        self.image_shape = tuple(int(v) for v in cal["image_shape"])
        self.image_detector = nn.build(IMAGE_DETECTOR, (1, *self.image_shape), 2, rng, weights=part(IMAGE))
        self.feature_detector = nn.build(FEATURE_DETECTOR, self.mean.shape, 2, rng, weights=part(FEATURES))
        self.n_features = self.mean.shape[0] - int(np.prod(self.image_shape))

    def score(self, images: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(N,) how strongly each image (N, H, W), with the model's features (N, D) of it, looks like
        no digit: the two networks' log-odds, summed (0 when off)."""
        if self.off is not None:
            return np.zeros(len(features), np.float32)
        joined = (_joined(images, features) - self.mean) / self.scale
        return _log_odds(self.image_detector, images[:, None].astype(np.float32)) + \
            _log_odds(self.feature_detector, joined.astype(np.float32))

    def flags(self, images: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(N,) bool: the model's answer should not be trusted."""
        return self.verdict(images, features)[1]

    def verdict(self, images: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((N,) scores, (N,) bool flags: score above the threshold; none when off)."""
        scores = self.score(images, features)
        return scores, (np.zeros(len(scores), bool) if self.off is not None else scores > self.threshold)


def _fit(specs: list[dict], x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, epochs: int,
         batch_size: int, lr: float) -> nn.Sequential:
    """A two-class network of specs trained (Adam) on x with labels y (0 digit, 1 not)."""
    model = nn.build(specs, x.shape[1:], 2, rng).compile()
    opt = nn.Adam(model.parameters(), model.gradients(), lr=lr)
    with nn.Trainer(model, opt, loss=nn.softmax_cross_entropy) as trainer:
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for i in range(0, len(x), batch_size):
                trainer.step(x[order[i:i + batch_size]], y[order[i:i + batch_size]])
    return model


def calibrate(digits: tuple[np.ndarray, np.ndarray], others: tuple[np.ndarray, np.ndarray],
              val: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, *, epochs: int, image_epochs: int,
              batch_size: int, lr: float, flag_rate: float) -> dict[str, np.ndarray]:
    """Train both networks on digits (label 0) against the non-digits (label 1), each given as
    (images (N, H, W) in [0, 1], the model's features (N, D)), and set the threshold so that
    flag_rate of the validation digits (the same pair) are flagged: the arrays predict needs
    (uncertainty.npz)."""
    images = np.concatenate([digits[0], others[0]]).astype(np.float32)
    joined = _joined(images, np.concatenate([digits[1], others[1]]))
    y = np.concatenate([np.zeros(len(digits[0]), np.int64), np.ones(len(others[0]), np.int64)])
    mean, scale = joined.mean(axis=0), joined.std(axis=0) + 1e-3
    image_rng, feature_rng = rng.spawn(2)
    image_detector = _fit(IMAGE_DETECTOR, images[:, None], y, image_rng, epochs=image_epochs, batch_size=batch_size, lr=lr)
    feature_detector = _fit(FEATURE_DETECTOR, ((joined - mean) / scale).astype(np.float32), y, feature_rng,
                            epochs=epochs, batch_size=batch_size, lr=lr)
    cal = {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
           "image_shape": np.array(images.shape[1:], np.int64),
           **{IMAGE + k: v.copy() for k, v in image_detector.parameters().items()},
           **{FEATURES + k: v.copy() for k, v in feature_detector.parameters().items()},
           "threshold": np.array(0, np.float32)}
    cal["threshold"] = np.array(np.quantile(Rule(cal).score(*val), 1 - flag_rate), np.float32)
    return cal


def flags(images: np.ndarray, features: np.ndarray, cal: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) bool, for a one-off check: Rule(cal).flags(images, features)."""
    return Rule(cal).flags(images, features)
