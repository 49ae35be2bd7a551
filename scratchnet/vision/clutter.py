"""Photographed clutter: marks that hold no digit (blotches, tangles of lines, overlapping outlines,
one plain figure), as a crop of an ordinary photo or a form offers them, read as `predict` reads a
picture. The negatives stage makes them for the `uncertain` detector to learn from."""

from __future__ import annotations

import numpy as np

from .printed import SMALL_PAGE, on_page, read


def clutter(n: int, rng: np.random.Generator, size: tuple[int, int] = (28, 28)) -> np.ndarray:
    """(n, h, w) float32: photographed marks that hold no digit (blotches of smoothed noise, tangles
    of lines, overlapping outlines, one plain figure: a box, a triangle, a star, solid or outlined),
    as predict reads them: what a crop of an ordinary photo or a form offers."""
    from PIL import Image, ImageDraw
    from scipy import ndimage

    h, w = SMALL_PAGE
    out = []
    while len(out) < n:
        kind = int(rng.integers(4))
        im = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(im)
        if kind == 0:  # blotches: smoothed noise, cut at a level
            field = ndimage.gaussian_filter(rng.standard_normal((h, w)), rng.uniform(2, 12))
            ink = np.clip((field - np.quantile(field, rng.uniform(0.7, 0.97))) / (field.std() * rng.uniform(0.1, 1)), 0, 1)
        elif kind in (1, 2):  # lines or outlines, many of them, crossing
            for _ in range(int(rng.integers(3, 12))):
                box = sorted(rng.uniform(0, w, 2)), sorted(rng.uniform(0, h, 2))
                width = int(rng.integers(1, 6))
                if kind == 1:
                    draw.line([tuple(p) for p in rng.uniform(0, 1, (int(rng.integers(2, 5)), 2)) * (w, h)], fill=255, width=width)
                else:
                    draw.ellipse((box[0][0], box[1][0], box[0][1], box[1][1]), outline=255, width=width)
            ink = np.asarray(im, np.float32) / 255
        else:  # one figure, upright or nearly: a box (a checkbox, a sign), a triangle, a star
            r = rng.uniform(0.2, 0.4) * h
            cx, cy = w / 2 + rng.uniform(-0.2, 0.2) * w, h / 2 + rng.uniform(-0.1, 0.1) * h
            corners = int(rng.choice([3, 4, 4, 5, 10]))
            turn = rng.uniform(-0.2, 0.2) + (np.pi / 4 if corners == 4 else -np.pi / 2)
            radius = [r * (0.45 if corners == 10 and k % 2 else 1) for k in range(corners)]
            squash = rng.uniform(0.5, 1.0) if corners == 4 and rng.random() < 0.5 else 1.0
            points = [(cx + radius[k] * np.cos(turn + 2 * np.pi * k / corners),
                       cy + squash * radius[k] * np.sin(turn + 2 * np.pi * k / corners)) for k in range(corners)]
            if rng.random() < 0.5:
                draw.polygon(points, fill=255)
            else:
                draw.polygon(points, outline=255, width=int(rng.integers(2, 9)))
            ink = np.asarray(im, np.float32) / 255
        if not ink.any():
            continue
        image = read(on_page(ink.astype(np.float32), rng, SMALL_PAGE), size)
        if image is not None:
            out.append(image)
    return np.stack(out) if out else np.zeros((0, *size), np.float32)
