"""Data for tests: tiny IDX datasets written on the fly, the local MNIST mirror, a small learnable
problem and the small CNN and recipe the library tests train."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from scratchnet.data.idx import idx_bytes
from scratchnet.data.raw import FILES
from scratchnet.training.presets import PRESETS
from tests.support import ROOT


def mnist_dir() -> Path | None:
    """The local MNIST mirror: SCRATCHNET_MNIST_DIR, else ../shared/data/mnist beside the checkout."""
    for candidate in (os.environ.get("SCRATCHNET_MNIST_DIR"), ROOT.parent / "shared" / "data" / "mnist"):
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").is_file():
            return Path(candidate).resolve()
    return None


def make_dataset(n_train=60, n_test=20, size=(6, 5), classes=3, seed=0):
    """Random but learnable images: class k lights up row block k. Returns {file name: array}."""
    rng = np.random.default_rng(seed)
    arrays = []
    for n in (n_train, n_test):
        labels = np.arange(n) % classes
        rng.shuffle(labels)
        images = rng.integers(0, 40, size=(n, *size)).astype(np.uint8)
        for k in range(classes):
            rows = slice(k * size[0] // classes, (k + 1) * size[0] // classes)
            images[labels == k, rows] = 200 + rng.integers(0, 50, size=(int((labels == k).sum()), 1, 1), dtype=np.uint8)
        arrays += [images, labels.astype(np.uint8)]
    return dict(zip(FILES, arrays))


def write_dataset(folder: Path, arrays: dict, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        data = idx_bytes(a)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


SMALL_CNN = [
    {"type": "conv2d", "filters": 4, "kernel": 3, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "size": 2}, {"type": "flatten"},
    {"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dropout", "rate": 0.1},
    {"type": "dense", "units": "classes"},
]


def random_problem(n=32, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8), dtype=np.float32)
    labels = np.arange(n) % classes
    return {"x": x, "y": np.eye(classes, dtype=np.float32)[labels], "labels": labels}


RECIPE = PRESETS["mlp"].replace(layers=SMALL_CNN, epochs=60, batch_size=8, optimizer="adam", lr=0.01,
                                schedule="constant", weight_decay=0.0, early_stopping=0, augment_shift=0)
