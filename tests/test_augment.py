"""Affine augmentation and shifts: exact where they must be, seeded, and drawing nothing when off."""

import numpy as np
import pytest

from scratchnet.vision.augment import affine, augment, random_affine, random_shift


def images(n=4, size=9, seed=0):
    return np.random.default_rng(seed).random((n, 1, size, size), dtype=np.float32)


def test_off_changes_nothing_and_draws_nothing():
    x, rng = images(), np.random.default_rng(5)
    assert augment(x, rng) is x
    assert rng.random() == np.random.default_rng(5).random()


def test_identity_and_quarter_turns_are_exact():
    x = images()
    np.testing.assert_allclose(affine(x, np.zeros(4), np.ones(4)), x, atol=1e-6)
    turned = affine(x, np.full(4, 90.0), np.ones(4))
    np.testing.assert_allclose(turned, np.rot90(x, 1, axes=(2, 3)), atol=1e-5)


def test_scaling_up_moves_ink_out_from_the_centre():
    x = np.zeros((1, 1, 9, 9), np.float32)
    x[0, 0, 4, 6] = 1  # two pixels right of the centre
    big = affine(x, [0.0], [2.0])
    assert big[0, 0, 4, 8] == pytest.approx(1.0) and big[0, 0, 4, 6] == pytest.approx(0.0)


def test_seeded_vectorised_and_float32():
    x = images(n=64, size=28)
    a = random_affine(x, 15, 0.1, np.random.default_rng(1))
    b = random_affine(x, 15, 0.1, np.random.default_rng(1))
    assert a.dtype == np.float32 and a.shape == x.shape and np.array_equal(a, b)
    assert not np.array_equal(a, random_affine(x, 15, 0.1, np.random.default_rng(2)))


def shifted(image, dy, dx):
    """image (C, H, W) moved dy pixels down and dx right, zeros where nothing moved in: a plain loop."""
    _, h, w = image.shape
    out = np.zeros_like(image)
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[:, i, j] = image[:, i - dy, j - dx]
    return out


@pytest.mark.parametrize("k", [1, 2])
def test_each_shift_moves_a_whole_image_by_at_most_k_pixels_and_every_offset_occurs(k):
    x = images(n=200, size=7) + 0.5  # no zero pixel: any pixel lost or invented shows
    x = np.concatenate([x, x[:, :1] * 2], axis=1)  # two channels: both move together
    out = random_shift(x, k, np.random.default_rng(3))
    assert out.dtype == x.dtype and out.shape == x.shape
    assert out.flags.c_contiguous and not np.shares_memory(out, x)  # a batch of its own, not a view
    assert np.array_equal(out, random_shift(x, k, np.random.default_rng(3)))
    moves = set()
    for image, result in zip(x, out):
        match = [(dy, dx) for dy in range(-k, k + 1) for dx in range(-k, k + 1)
                 if np.array_equal(result, shifted(image, dy, dx))]
        assert len(match) == 1, match
        moves.add(match[0])
    assert len(moves) == (2 * k + 1) ** 2
