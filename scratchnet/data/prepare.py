"""Preparing splits from the raw IDX files: reading and checking them, the class count, the
validation split's size, and the arrays a prepared split holds (see splits.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import DataError, ParamsError
from .idx import read_idx
from .raw import CHECKSUMS, SPLITS, check_pair

MNIST_VAL_SIZE = 5000  # MNIST's customary 55,000 / 5,000 train / validation split
DEFAULT_VAL_FRACTION = 0.1


def val_count(val_size: float | None, n_train: int, dataset: str | None) -> int:
    """Validation images to carve from n_train: val_size as a count or fraction, or by default
    MNIST's 5,000, or a tenth of any other dataset's training images."""
    if val_size is None:
        val_size = MNIST_VAL_SIZE if dataset == "mnist" else DEFAULT_VAL_FRACTION
    count = int(round(val_size * n_train)) if isinstance(val_size, float) and val_size < 1 else int(val_size)
    if count >= n_train:
        raise ParamsError(f"preprocess.val_size: {val_size} leaves no training images (train has {n_train})")
    return count


def dataset_name(raw_dir: Path) -> str | None:
    """The dataset fetch recorded in checksums.json (None if absent or unreadable: a hand-made folder)."""
    try:
        return json.loads((raw_dir / CHECKSUMS).read_text(encoding="utf-8")).get("dataset")
    except (OSError, ValueError, AttributeError):
        return None


def as_split(images: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
    x = images.astype(np.float32)
    np.divide(x, 255.0, out=x)
    return {"x": x, "y": np.eye(num_classes, dtype=np.float32)[labels], "labels": labels.astype(np.int64)}


def read_raw(raw_dir: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """({split: (images (N, H, W), labels (N,))}, {file name: sha256}) of the four IDX files in raw_dir."""
    if not raw_dir.is_dir():
        raise DataError(f"{raw_dir}: not found (run `scratchnet fetch` or `dvc repro fetch` first)")
    raw, sha = {}, {}
    for split, (img_name, lab_name) in SPLITS.items():
        images, labels = read_idx(raw_dir / img_name), read_idx(raw_dir / lab_name)
        check_pair(images, labels, split)
        raw[split] = (images, labels)
        for name in (img_name, lab_name):
            sha[name] = hashlib.sha256((raw_dir / name).read_bytes()).hexdigest()
    if raw["train"][0].shape[1:] != raw["test"][0].shape[1:]:
        raise DataError(f"train images are {raw['train'][0].shape[1:]} but test images are {raw['test'][0].shape[1:]}")
    return raw, sha


def class_count(raw: dict[str, tuple[np.ndarray, np.ndarray]], num_classes: int | None) -> int:
    """num_classes, or the largest train label + 1 when None; a label past it is a DataError."""
    seen = int(max(raw["train"][1].max(), raw["test"][1].max())) + 1
    if num_classes is None:
        num_classes = int(raw["train"][1].max()) + 1
    if seen > num_classes:
        bad = "train" if raw["train"][1].max() >= num_classes else "test"
        raise DataError(f"{bad} labels: label {seen - 1} out of range for {num_classes} classes")
    if num_classes < 2:
        raise DataError("train labels: need at least 2 classes")
    return num_classes
