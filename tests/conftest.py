"""Shared fixtures: tiny IDX datasets written on the fly, and the local MNIST mirror if present."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from stages.fetch import FILES
from stages.idx import idx_bytes

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.fixture
def tiny_idx(tmp_path) -> Path:
    """A folder with the four IDX files of a small 3-class, 6x5 dataset."""
    return write_dataset(tmp_path / "tiny", make_dataset())


@pytest.fixture
def mnist() -> Path:
    path = mnist_dir()
    if path is None:
        pytest.skip("local MNIST mirror not found (set SCRATCHNET_MNIST_DIR)")
    return path
