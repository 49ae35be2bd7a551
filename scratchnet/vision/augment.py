"""Training-time augmentation of image batches x (N, C, H, W), vectorised over the batch and seeded.

random_affine rotates and scales each image about its centre (bilinear sampling, zeros outside);
random_shift moves each image by whole pixels. A transform left at 0 draws nothing from the
generator, so a recipe without it trains exactly as before it existed.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def augment(x: np.ndarray, rng: np.random.Generator, *, rotate: float = 0.0, scale: float = 0.0,
            shift: int = 0) -> np.ndarray:
    """x (N, C, H, W) with each image rotated by up to +-rotate degrees, scaled by a factor in
    [1 - scale, 1 + scale], then shifted by up to shift pixels each way."""
    if rotate or scale:
        x = random_affine(x, rotate, scale, rng)
    if shift:
        x = random_shift(x, shift, rng)
    return x


def random_affine(x: np.ndarray, rotate: float, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate each image of x (N, C, H, W) by an angle uniform in +-rotate degrees and scale it by a
    factor uniform in [1 - scale, 1 + scale], about the image centre; bilinear, zero outside."""
    n = len(x)
    return affine(x, rng.uniform(-rotate, rotate, n), rng.uniform(1 - scale, 1 + scale, n))


def affine(x: np.ndarray, degrees: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Image i of x (N, C, H, W) rotated counter-clockwise by degrees[i] and scaled by factors[i]
    about its centre, sampled bilinearly, zero outside."""
    n, c, h, w = x.shape
    angle, factor = np.deg2rad(np.asarray(degrees, np.float64)), np.asarray(factors, np.float64)
    # each output pixel reads the input at the inverse transform of its own position
    cos = (np.cos(angle) / factor).astype(np.float32)[:, None, None]                 # (N, 1, 1)
    sin = (np.sin(angle) / factor).astype(np.float32)[:, None, None]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy - (h - 1) / 2, xx - (w - 1) / 2                                       # (H, W) about the centre
    src_y = cos * yy + sin * xx + ((h - 1) / 2 + 1)                                  # (N, H, W), +1: the border
    src_x = cos * xx - sin * yy + ((w - 1) / 2 + 1)
    np.clip(src_y, 0, h + 1, out=src_y)
    np.clip(src_x, 0, w + 1, out=src_x)
    y0, x0 = src_y.astype(np.intp), src_x.astype(np.intp)                            # floor: both are >= 0
    wy, wx = (src_y - y0).astype(x.dtype), (src_x - x0).astype(x.dtype)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))  # a zero border: neighbours outside read 0
    stride, plane = w + 3, (h + 3) * (w + 3)
    corner = y0 * stride + x0 + (np.arange(n) * plane)[:, None, None]                 # (N, H, W) into one plane each
    out = np.empty_like(x)
    # one 1-D gather per corner and channel, over the whole batch at once
    for ch in range(c):
        flat = np.ascontiguousarray(padded[:, ch]).reshape(-1)
        at = [np.take(flat, corner + d) for d in (0, 1, stride, stride + 1)]
        top = at[0] + (at[1] - at[0]) * wx
        bottom = at[2] + (at[3] - at[2]) * wx
        out[:, ch] = top + (bottom - top) * wy
    return out


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each image of x (N, C, H, W) by up to max_shift pixels each way, filling with zeros."""
    n, c, h, w = x.shape
    k = max_shift
    offsets = rng.integers(0, (2 * k + 1) ** 2, size=n)
    padded = np.zeros((n, c, h + 2 * k, w + 2 * k), x.dtype)
    padded[:, :, k:k + h, k:k + w] = x
    dy, dx = np.divmod(offsets, 2 * k + 1)
    # image i is the (H, W) window of its padded copy at (dy[i], dx[i]): one gather over the batch,
    # rather than a block copy per distinct offset
    return sliding_window_view(padded, (h, w), axis=(2, 3))[np.arange(n), :, dy, dx]
