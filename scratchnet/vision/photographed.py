"""Digits photographed: images of digits written dark on a page under a phone's light, and read back
the way `predict` reads a picture. The detector stage adds such copies of training digits to what it
learns as digits, so that a photo's light, blur and noise are not what it flags."""

from __future__ import annotations

import numpy as np

from .printed import SMALL_PAGE, on_page, read


def photographed(digits: np.ndarray, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """(n, h, w) float32: the digits (N, H, W) in [0, 1], white on black, written dark on photographed
    pages, from small and off-centre to filling the page, and read as predict reads them; those it
    would refuse left out."""
    from scipy import ndimage

    out = []
    for digit in digits:
        page = SMALL_PAGE
        grow = rng.uniform(0.2, 0.85) * page[0] / digit.shape[0]  # the digit's height: a fifth of the page to most of it
        ink = np.clip(ndimage.zoom(digit.astype(np.float32), grow, order=1), 0, 1)
        image = read(_ramp(on_page(ink, rng, page), rng) if rng.random() < 0.5 else on_page(ink, rng, page), size)
        if image is not None:
            out.append(image)
    return np.stack(out) if out else np.zeros((0, *size), np.float32)


def _ramp(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """gray with light falling off across it, added: up to a third of the paper's brightness from one
    side to the other, as a lamp or a window beside the page gives."""
    h, w = gray.shape
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = (yy / h - 0.5) * np.sin(angle) + (xx / w - 0.5) * np.cos(angle)
    return np.clip(gray + ramp * rng.uniform(0, 0.65), 0, 1).astype(np.float32)
