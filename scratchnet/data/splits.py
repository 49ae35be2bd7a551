"""Reading a prepared split back safely, and handing its images to a model.

A prepared split (.npz, written by the preprocess stage: data/prepare.py) holds x (N, H, W) float32
in [0, 1], y (N, C) float32 one-hot and labels (N,) int64.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ZIP_REFUSALS, DataError


def load_split(path: Path | str) -> dict[str, np.ndarray]:
    """Load a prepared split (.npz) safely and check its arrays agree with each other."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found (run `scratchnet preprocess` or `dvc repro preprocess` first)")
    try:
        with np.load(path, allow_pickle=False) as z:
            split = {k: z[k] for k in ("x", "y", "labels")}
    except KeyError as e:
        raise DataError(f"{path}: missing array {e}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, *ZIP_REFUSALS) as e:  # truncated, bit-flipped
        raise DataError(f"{path}: not a readable .npz ({e}); `dvc repro preprocess` makes it again") from None
    x, y, labels = split["x"], split["y"], split["labels"]
    if x.ndim != 3 or x.dtype != np.float32 or y.ndim != 2 or len(y) != len(x) or labels.shape != (len(x),):
        raise DataError(f"{path}: arrays have unexpected shapes x{x.shape} y{y.shape} labels{labels.shape}")
    return split


def model_input(split: dict[str, np.ndarray], input_shape) -> np.ndarray:
    """A split's images as (N, 1, H, W), checked against a model's per-sample input shape."""
    x = split["x"][:, None]
    if x.shape[1:] != tuple(input_shape):
        raise DataError(f"the images are {x.shape[1:]} but the model takes {tuple(input_shape)}: "
                        "was it trained on another dataset?")
    return x
