"""The PNG plots evaluate draws of what the model learned."""

import numpy as np
import pytest
from PIL import Image

from scratchnet import plots


@pytest.mark.parametrize("weights, shape, tiles", [
    (np.random.default_rng(0).standard_normal((32, 1, 3, 3)), (1, 28, 28), 32),     # conv filters
    (np.random.default_rng(0).standard_normal((784, 128)), (1, 28, 28), 128),       # dense on pixels
    (np.random.default_rng(0).standard_normal((196, 16)), (1, 28, 28), 16),         # dense behind pooling
])
def test_first_layer_picture(tmp_path, weights, shape, tiles):
    plots.first_layer_png(weights.astype(np.float32), shape, tmp_path / "first.png")
    width, height = Image.open(tmp_path / "first.png").size
    assert width >= 70 * min(tiles, 16) * 0.9 and height >= 50


def test_per_class_picture_is_byte_identical_run_to_run(tmp_path):
    recall = np.array([0.99, 0.995, 0.98, 0.97, 0.985, 0.96, 0.99, 0.975, 0.95, 0.965])
    for name in ("a.png", "b.png"):
        plots.per_class_png(recall, list(range(10)), tmp_path / name)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
