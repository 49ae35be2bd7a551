"""The raw data's layout: the four IDX files of a dataset and the checksum record beside them."""

from __future__ import annotations

import numpy as np

from ..errors import DataError

SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILES = [name for pair in SPLITS.values() for name in pair]
CHECKSUMS = "checksums.json"  # written beside the four files: dataset name, sha256, shapes


def check_pair(images: np.ndarray, labels: np.ndarray, split: str) -> None:
    """Images must be (N, H, W), labels (N,)."""
    if images.ndim != 3:
        raise DataError(f"{split} images: expected 3 dimensions (N, H, W), got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{split} labels: expected 1 dimension (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{split}: {len(images)} images but {len(labels)} labels")
