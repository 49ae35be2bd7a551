"""Is it a digit? The rule behind each prediction's `uncertain` flag, learned and calibrated at export.

Softmax confidence alone is a weak detector: the network is confident on shapes it never saw (on
the photo set of tests/support/photos.py it flagged 10 of 20 letters and 8 of 20 shapes; a
nearest-neighbour distance on the features, Mahalanobis distances and test-time augmentation did
no better than 74 % of all non-digits). So the rule is learned from examples of what is not a digit
(outlier exposure): a small network, DETECTOR, reads the model's penultimate-layer features (the
input of its last dense layer) and is trained to tell training digits from drawn non-digits
(stages/negatives.py). An image is uncertain when its "not a digit" probability is above the level
that only FLAG_RATE of the held-back validation digits reach.

predict adds a page-level rule: more than MAX_OTHER_MARKS other sizeable marks on the page (text, a
form) means it is no single digit.
"""

from __future__ import annotations

import numpy as np

from . import nn

FLAG_RATE = 0.01  # the share of held-back digits flagged, by construction
MAX_OTHER_MARKS = 3  # digit pages show at most 3 (a test digit's own stray blobs), text dozens
FILE = "uncertainty.npz"
DETECTOR = [{"type": "dense", "units": 64}, {"type": "relu"}, {"type": "dense", "units": "classes"}]
POSITIVES = 20000  # training digits the detector sees (at most)
EPOCHS, BATCH, LR = 10, 128, 1e-3  # Adam; 30,000 64-d features x 10 epochs take about 1 s


def infer(session, x: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, K), features (N, D)) of the exported ONNX model for x (N, 1, H, W)."""
    if not len(x):
        outs = session.get_outputs()
        return np.zeros((0, outs[0].shape[1]), np.float32), np.zeros((0, outs[1].shape[1]), np.float32)
    both = [session.run(["probabilities", "features"], {"image": x[i:i + batch_size]})
            for i in range(0, len(x), batch_size)]
    return np.concatenate([b[0] for b in both]), np.concatenate([b[1] for b in both])


def _not_digit(detector: nn.Sequential, features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(N,) the detector's probability that each image (its features (N, D)) is not a digit."""
    return nn.softmax(detector.predict_logits(((features - mean) / scale).astype(np.float32)))[:, 1]


class Rule:
    """The rule from its arrays (uncertainty.npz), its detector built once: what predict and serve
    keep for every request. A missing array is a KeyError, a detector of the wrong shape a SpecError."""

    def __init__(self, cal: dict[str, np.ndarray]):
        self.mean, self.scale, self.threshold = cal["mean"], cal["scale"], cal["threshold"]
        weights = {k.removeprefix("detector."): v for k, v in cal.items() if k.startswith("detector.")}
        self.detector = nn.build(DETECTOR, self.mean.shape, 2, np.random.default_rng(0), weights=weights)

    def score(self, features: np.ndarray) -> np.ndarray:
        """(N,) the detector's probability that each image (its features (N, D)) is not a digit."""
        return _not_digit(self.detector, features, self.mean, self.scale)

    def flags(self, features: np.ndarray) -> np.ndarray:
        """(N,) bool: the model's answer should not be trusted."""
        return self.score(features) > self.threshold


def calibrate(digit_features: np.ndarray, negative_features: np.ndarray, val_features: np.ndarray,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Train the detector on training digits' features (N, D) (label 0) against the non-digits'
    (M, D) (label 1), and set the threshold on the validation digits' features: the arrays
    predict needs (uncertainty.npz)."""
    both = np.concatenate([digit_features, negative_features]).astype(np.float32)
    mean, scale = both.mean(axis=0), both.std(axis=0) + 1e-3
    x = (both - mean) / scale
    y = np.concatenate([np.zeros(len(digit_features), np.int64), np.ones(len(negative_features), np.int64)])
    model = nn.build(DETECTOR, (x.shape[1],), 2, rng)
    opt = nn.Adam(model.parameters(), model.gradients(), lr=LR)
    with nn.Trainer(model, opt, loss=nn.softmax_cross_entropy) as trainer:
        for _ in range(EPOCHS):
            order = rng.permutation(len(x))
            for i in range(0, len(x), BATCH):
                trainer.step(x[order[i:i + BATCH]], y[order[i:i + BATCH]])
    cal = {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
           **{f"detector.{k}": v.copy() for k, v in model.parameters().items()}}
    cal["threshold"] = np.array(np.quantile(_not_digit(model, val_features, mean, scale), 1 - FLAG_RATE), np.float32)
    return cal


def flags(features: np.ndarray, cal: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) bool, for a one-off check: Rule(cal).flags(features)."""
    return Rule(cal).flags(features)
