"""Shared fixtures: tiny IDX datasets written on the fly, and the local MNIST mirror if present.

Two tiers: `pytest -m "not slow"` runs the library, params, formats and the CLI on small data;
the slow tier adds what takes time: anything on full MNIST (a test using the `mnist` or
`mnist_model` fixture is slow by that alone), DVC repos, the browser and the notebook."""

from __future__ import annotations

from pathlib import Path

import pytest

from scratchnet.data.splits import load_split
from tests.support.data import make_dataset, mnist_dir, write_dataset
from tests.support.repo import FEW_DETECTOR, FEW_NEGATIVES, run_pipeline

FULL_MNIST = {"mnist", "mnist_model"}


def pytest_collection_modifyitems(items):
    for item in items:
        if FULL_MNIST & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def mnist_model(tmp_path_factory):
    """(export folder, test split) of the default pipeline, every param as params.yaml has it (the
    model and detector `dvc repro` makes), on the local MNIST mirror."""
    if mnist_dir() is None:
        pytest.skip("local MNIST mirror not found")
    root = tmp_path_factory.mktemp("mnist")
    export_dir = run_pipeline(root, dataset="mnist", source=str(mnist_dir()), val_size=None, negatives_count=10000)
    return export_dir, load_split(root / "prepared" / "test.npz")


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory):
    """The export folder of a model trained briefly on the bundled 8x8 digits."""
    return run_pipeline(tmp_path_factory.mktemp("digits"), epochs=3, negatives_count=FEW_NEGATIVES["count"],
                        detector_params=FEW_DETECTOR)
