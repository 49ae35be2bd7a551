"""Pictures that hold no digit, drawn from a seed: the negatives the `uncertain` rule learns from
(outlier exposure: Hendrycks et al., "Deep Anomaly Detection with Outlier Exposure", 2019).

Each is drawn as ink (white on black: jittered pen strokes of random width in a random pose, soft
edges, a little noise) and normalised as MNIST was and as `predict` normalises a photo's ink
(`mnist_box.fit_box`: a 20x20 box, centre of mass at the centre). Kinds: letters that no digit
resembles (from stroke skeletons below, not a font, so the font-rendered letters of the test set
stay unseen), geometric shapes, scribbles and short strings.
"""

from __future__ import annotations

import numpy as np

from .mnist_box import fit_box


def _arc(cx, cy, rx, ry, a0, a1, n=10):
    """Points on an ellipse arc, angles in degrees (0 = right, 90 = down)."""
    a = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(a), cy + ry * np.sin(a)))


# Skeletons in a unit box, x to the right and y down: each letter a list of polylines. Letters a
# digit can pass for (printed.DIGIT_LIKE) are left out: flagging them would flag digits too.
LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.25, 0.55), (0.75, 0.55)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.75, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.75, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "K": [[(0, 0), (0, 1)], [(1, 0), (0, 0.55)], [(0.3, 0.35), (1, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "P": [[(0, 1), (0, 0), *_arc(0.2, 0.27, 0.6, 0.27, -90, 90), (0, 0.54)]],
    "R": [[(0, 1), (0, 0), *_arc(0.2, 0.27, 0.6, 0.27, -90, 90), (0, 0.54)], [(0.35, 0.54), (1, 1)]],
    "U": [[(0, 0), *_arc(0.5, 0.5, 0.5, 0.5, 180, 0), (1, 0)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "L": [[(0, 0), (0, 1), (0.8, 1)]],
    "a": [_arc(0.45, 0.7, 0.45, 0.3, -20, 340), [(0.9, 0.4), (0.9, 1)]],
    "a2": [[*_arc(0.45, 0.25, 0.4, 0.2, 200, 360), (0.85, 1)], _arc(0.45, 0.72, 0.4, 0.25, -10, 350)],  # print form
    "e": [[(0.05, 0.65), (0.95, 0.65), *_arc(0.5, 0.65, 0.45, 0.35, 0, -320)]],
    "f": [[*_arc(0.65, 0.2, 0.3, 0.2, 330, 180), (0.35, 1)], [(0.05, 0.4), (0.75, 0.4)]],
    "h": [[(0, 0), (0, 1)], [(0, 0.6), *_arc(0.45, 0.65, 0.45, 0.25, 200, 360), (0.9, 1)]],
    "k": [[(0, 0), (0, 1)], [(0.8, 0.35), (0, 0.7)], [(0.3, 0.6), (0.85, 1)]],
    "m": [[(0, 1), (0, 0.4)], [(0, 0.55), *_arc(0.25, 0.6, 0.25, 0.2, 200, 360), (0.5, 1)],
          [(0.5, 0.6), *_arc(0.75, 0.6, 0.25, 0.2, 180, 360), (1, 1)]],
    "n": [[(0, 1), (0, 0.4)], [(0, 0.6), *_arc(0.45, 0.65, 0.45, 0.25, 200, 360), (0.9, 1)]],
    "r": [[(0, 1), (0, 0.4)], [(0, 0.65), *_arc(0.45, 0.65, 0.45, 0.25, 200, 300)]],
    "w": [[(0, 0.4), (0.25, 1), (0.5, 0.55), (0.75, 1), (1, 0.4)]],
    "x": [[(0, 0.4), (1, 1)], [(1, 0.4), (0, 1)]],
    "y": [[(0, 0.4), (0.5, 0.8)], [(1, 0.4), (0.3, 1.3)]],
    "C": [_arc(0.55, 0.5, 0.5, 0.5, 40, 320, 14)],
    "D": [[(0, 0), (0, 1)], [(0, 0), (0.4, 0), *_arc(0.4, 0.5, 0.55, 0.5, -90, 90), (0, 1)]],
    "J": [[(0.2, 0), (1, 0)], [(0.7, 0), (0.7, 0.75), *_arc(0.4, 0.75, 0.3, 0.25, 0, 180)]],
    "c": [_arc(0.55, 0.7, 0.45, 0.3, 40, 320, 12)],
    "d": [_arc(0.45, 0.7, 0.45, 0.3, 0, 360, 14), [(0.9, 0), (0.9, 1)]],
    "i": [[(0.5, 0.4), (0.5, 1)], [(0.5, 0.1), (0.5, 0.16)]],
    "j": [[(0.6, 0.4), (0.6, 1.1), *_arc(0.35, 1.1, 0.25, 0.2, 0, 150)], [(0.6, 0.1), (0.6, 0.16)]],
    "t": [[(0.4, 0), (0.4, 0.9), *_arc(0.65, 0.9, 0.25, 0.1, 180, 90)], [(0.05, 0.35), (0.8, 0.35)]],
    "p": [[(0, 0.4), (0, 1.3)], _arc(0.45, 0.65, 0.45, 0.25, 0, 360, 14)],
    "u": [[(0, 0.4), *_arc(0.45, 0.75, 0.45, 0.25, 180, 0), (0.9, 0.4)], [(0.9, 0.4), (0.9, 1)]],
    "v": [[(0, 0.4), (0.5, 1), (1, 0.4)]],
}


def _shape(rng) -> list[list[tuple[float, float]]] | tuple[str, list[tuple[float, float]]]:
    """A geometric shape in the unit box: polylines, or ("fill", polygon) for a filled one."""
    kind = int(rng.integers(0, 6))
    if kind == 0:  # a polygon with 3 to 8 corners
        k = int(rng.integers(3, 9))
        start = rng.uniform(0, 360)
        pts = _arc(0.5, 0.5, 0.5, 0.5 * rng.uniform(0.5, 1), start, start + 360, k + 1)
    elif kind == 1:  # a star
        k = int(rng.integers(4, 8))
        outer = _arc(0.5, 0.5, 0.5, 0.5, -90, 270, 2 * k + 1)
        pts = [(0.5 + (x - 0.5) * (1 if i % 2 == 0 else 0.45), 0.5 + (y - 0.5) * (1 if i % 2 == 0 else 0.45))
               for i, (x, y) in enumerate(outer)]
    elif kind == 2:  # a rectangle, often a square
        a = rng.uniform(0.2, 1) if rng.random() < 0.5 else 1.0
        pts = [(0, 0.5 - a / 2), (1, 0.5 - a / 2), (1, 0.5 + a / 2), (0, 0.5 + a / 2), (0, 0.5 - a / 2)]
    elif kind == 3:  # an ellipse that is clearly not a zero's upright oval
        pts = _arc(0.5, 0.5, 0.5, 0.5 * rng.uniform(0.25, 0.6), 0, 360, 24)
    elif kind == 4:  # a grid or hatching
        n = int(rng.integers(2, 5))
        lines = [[(i / n, 0), (i / n, 1)] for i in range(n + 1)] + [[(0, i / n), (1, i / n)] for i in range(n + 1)]
        return lines if rng.random() < 0.5 else lines[: n + 1]
    else:  # a scribble: a random walk of 6 to 14 points
        return [[tuple(p) for p in rng.uniform(0, 1, (int(rng.integers(6, 15)), 2))]]
    return ("fill", pts) if rng.random() < 0.5 else [pts]


def _draw(strokes, rng, size: tuple[int, int], canvas: int = 64) -> np.ndarray | None:
    """Render strokes (polylines in the unit box, or ("fill", polygon)) as ink, white on black, in a
    random affine pose with pen jitter and width, soft edges and a little noise; then MNIST's own
    normalisation (images.fit_box) to `size`. None when no stroke left ink."""
    from PIL import Image, ImageDraw, ImageFilter

    scale, up = canvas * 0.7, 2  # drawn at 2x, then downsampled: antialiased strokes
    angle, shear, aspect = np.radians(rng.uniform(-20, 20)), rng.uniform(-0.3, 0.3), rng.uniform(0.6, 1.3)
    pose = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ [[aspect, shear], [0, 1]]
    im = Image.new("L", (canvas * up, canvas * up), 0)
    draw = ImageDraw.Draw(im)

    def place(points):
        p = (np.asarray(points, float) - 0.5) @ pose.T * scale + canvas / 2
        return [tuple(q) for q in (p + rng.normal(0, 0.012 * scale, p.shape)) * up]

    if isinstance(strokes, tuple):
        draw.polygon(place(strokes[1]), fill=255)
    else:
        width = max(1, int(rng.uniform(0.05, 0.16) * scale * up))
        for line in strokes:
            draw.line(place(line), fill=255, width=width, joint="curve")
    im = im.resize((canvas, canvas), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.5)))
    ink = np.asarray(im, np.float32) / 255 * rng.uniform(0.7, 1)
    ink = np.clip(ink + rng.normal(0, rng.uniform(0, 0.03), ink.shape) * (ink > 0.05), 0, 1)
    rows, cols = np.flatnonzero((ink > 0.1).any(1)), np.flatnonzero((ink > 0.1).any(0))
    if not len(rows):  # a shape too thin to leave ink: the caller draws another
        return None
    return fit_box(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], size)


def _string(rng) -> list[list[tuple[float, float]]]:
    """Two or three letters side by side, squeezed into the unit box."""
    picks = rng.choice(list(LETTERS), int(rng.integers(2, 4)))
    n = len(picks)
    return [[((i + 0.1 + 0.8 * x) / n, 0.3 + 0.4 * y) for x, y in line] for i, c in enumerate(picks) for line in LETTERS[c]]


def sample(n: int, rng: np.random.Generator, size: tuple[int, int] = (28, 28)) -> np.ndarray:
    """(n, h, w) float32 MNIST-style non-digits: half letters, a third shapes, the rest strings."""
    out = []
    names = list(LETTERS)
    while len(out) < n:
        u = rng.random()
        strokes = LETTERS[names[int(rng.integers(len(names)))]] if u < 0.5 else _shape(rng) if u < 0.83 else _string(rng)
        drawn = _draw(strokes, rng, size)
        if drawn is not None:
            out.append(drawn)
    return np.stack(out).astype(np.float32) if out else np.zeros((0, *size), np.float32)
