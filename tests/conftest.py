"""Shared fixtures: tiny IDX datasets written on the fly, and the local MNIST mirror if present."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.data import make_dataset, mnist_dir, write_dataset


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
