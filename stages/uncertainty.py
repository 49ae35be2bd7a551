"""Is it a digit? The rule behind each prediction's `uncertain` flag, calibrated at export.

Softmax confidence alone is a weak detector: the network is confident on shapes it never saw. So two
scores are combined, each turned into a rank against the held-back validation digits (the fraction
of them that score no higher):

- 1 - max softmax probability;
- the cosine distance from the image's penultimate-layer features (the input of the last dense
  layer) to the nearest of BANK training digits' features.

An image is uncertain when its larger rank exceeds the threshold that flags FLAG_RATE of the
validation digits. predict adds a page-level rule: more than MAX_OTHER_MARKS other sizeable marks
on the page (text, a form) means it is no single digit.
"""

from __future__ import annotations

import numpy as np

BANK = 5000  # training digits whose features are kept: 5000 x D float32 in the export
FLAG_RATE = 0.01  # the share of held-back digits flagged, by construction
MAX_OTHER_MARKS = 3  # digit pages show at most 3 (a test digit's own stray blobs), text dozens
FILE = "uncertainty.npz"


def infer(session, x: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, K), features (N, D)) of the exported ONNX model for x (N, 1, H, W)."""
    if not len(x):
        outs = session.get_outputs()
        return np.zeros((0, outs[0].shape[1]), np.float32), np.zeros((0, outs[1].shape[1]), np.float32)
    both = [session.run(["probabilities", "features"], {"image": x[i:i + batch_size]})
            for i in range(0, len(x), batch_size)]
    return np.concatenate([b[0] for b in both]), np.concatenate([b[1] for b in both])


def _unit(features: np.ndarray) -> np.ndarray:
    f = features.astype(np.float32)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-6)


def raw_scores(probs: np.ndarray, features: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(N, 2): 1 - max probability, and the cosine distance to the nearest bank feature."""
    nearest = (_unit(features) @ bank.T).max(axis=1)
    return np.stack([1 - probs.max(axis=1), 1 - nearest], axis=1).astype(np.float32)


def calibrate(bank_features: np.ndarray, val_probs: np.ndarray, val_features: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays predict needs, from the features of up to BANK training digits and the outputs
    for the validation digits: the bank, the validation scores (sorted, per score) and the
    threshold on the combined rank."""
    bank = _unit(bank_features)
    val = np.sort(raw_scores(val_probs, val_features, bank), axis=0)
    cal = {"bank": bank, "val_scores": val}
    cal["threshold"] = np.array(np.quantile(combined(val_probs, val_features, cal), 1 - FLAG_RATE), np.float32)
    return cal


def combined(probs: np.ndarray, features: np.ndarray, cal: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) the larger of the two scores' ranks among the validation digits, in [0, 1]."""
    raw = raw_scores(probs, features, cal["bank"])
    val = cal["val_scores"]
    ranks = [np.searchsorted(val[:, j], raw[:, j], side="right") / len(val) for j in range(raw.shape[1])]
    return np.max(ranks, axis=0)


def flags(probs: np.ndarray, features: np.ndarray, cal: dict[str, np.ndarray]) -> np.ndarray:
    """(N,) bool: the model's answer should not be trusted."""
    return combined(probs, features, cal) > cal["threshold"]
