"""MNIST's own normalisation of a mark: shared by the photo reader (images.py) and the drawn
non-digits (drawing.py), so both reach the model framed as its training digits were."""

from __future__ import annotations

import numpy as np


def fit_box(ink: np.ndarray, size: tuple[int, int] = (28, 28)) -> np.ndarray:
    """MNIST's own normalisation: ink (H, W) in [0, 1], already cropped to the mark, scaled to fit a
    20x20 box (for 28x28) and placed with its centre of mass at the centre of a (h, w) float32 canvas."""
    from PIL import Image

    h, w = size
    box = max(1, round(min(h, w) * 20 / 28))
    scale = box / max(ink.shape)
    new_h, new_w = max(1, round(ink.shape[0] * scale)), max(1, round(ink.shape[1] * scale))
    small = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS))
    small = np.clip(small, 0, 1)
    total = small.sum()
    cy, cx = ((np.indices(small.shape) * small).reshape(2, -1).sum(1) / total) if total > 0 else (new_h / 2, new_w / 2)
    top, left = int(round(h / 2 - cy - 0.5)), int(round(w / 2 - cx - 0.5))
    top, left = min(max(top, 0), h - new_h), min(max(left, 0), w - new_w)
    canvas = np.zeros(size, dtype=np.float32)
    canvas[top:top + new_h, left:left + new_w] = small
    return canvas
