"""Printed characters photographed on a page: a font's glyphs rendered dark on light paper in a random
pose, weight and light, as a phone photo of a sign, a label or a keyboard shows them, and read the
way `predict` reads a picture (images.prepare).

The negatives stage prints non-digits (letters, symbols, strings of digits) in the fonts matplotlib
ships (training_fonts()) for the `uncertain` detector to learn from, and digits as more examples of
what a digit is. Fonts that are not among them stay unseen, for the open-set check (bench/open_set.py).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from .images import prepare

# letters a digit can pass for (O Q o: 0; I l: 1; Z z: 2; S s: 5; b G: 6; B: 8; g q: 9), never taught as
# "not a digit": flagging them would flag digits too. The open-set check (bench/open_set.py) leaves them out.
DIGIT_LIKE = frozenset("OQoIlZzSsbGBgq")
LETTERS = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in DIGIT_LIKE)
SYMBOLS = "+=%&@#$?*<>~^{}§¶€£±×÷µΩπ"  # not "|/()[]!-" : a 1 in most hands
PAGE = (240, 320)  # (H, W), as a downscaled phone photo
SMALL_PAGE = (120, 160)  # the negatives stage's pages: a quarter of the pixels to read, glyphs scaled to fit
SMALL_GLYPHS = (30, 95)  # glyph heights in pixels on a small page
# matplotlib's bundled text fonts: DejaVu (sans, serif, mono), STIX (a Times), Computer Modern
_TRAINING = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique", "DejaVuSansMono",
             "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique", "DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic",
             "DejaVuSerif-BoldItalic", "STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta",
             "cmr10", "cmss10", "cmtt10", "cmb10", "cmti10")


@cache
def training_fonts() -> tuple[Path, ...]:
    """The fonts the detector's printed negatives use: matplotlib's own copies (a dependency of the
    project, so the same files wherever it is installed)."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(folder / f"{name}.ttf" for name in _TRAINING if (folder / f"{name}.ttf").is_file())


@cache
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


@cache
def has_glyphs(path: str, text: str) -> bool:
    """Whether the font draws every character of text as itself, not as its missing-glyph box."""
    from PIL import Image, ImageDraw

    font = _font(path, 48)

    def drawn(c: str) -> bytes:
        im = Image.new("L", (96, 96), 0)
        ImageDraw.Draw(im).text((8, 8), c, fill=255, font=font)
        return im.tobytes()

    missing, blank = drawn("\U000f0000"), bytes(96 * 96)  # a private-use character: no text font has it
    return all(drawn(c) not in (missing, blank) for c in text)


def glyph_ink(text: str, font: str | Path, height: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) float32 ink in [0, 1] (white on black) of text printed in font (a path; "" for Pillow's
    own) about `height` pixels tall, bolder or lighter, slanted and turned a little."""
    from PIL import Image, ImageDraw

    pil_font = _font(str(font), int(height))
    left, top, right, bottom = pil_font.getbbox(text)
    pad = height // 2
    im = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    stroke = int(rng.choice([0, 0, 0, 1, 2])) * max(1, height // 40)
    ImageDraw.Draw(im).text((pad - left, pad - top), text, fill=255, font=pil_font, stroke_width=stroke, stroke_fill=255)
    shear = rng.uniform(-0.25, 0.25)
    im = im.transform(im.size, Image.Transform.AFFINE, (1, shear, -shear * im.size[1] / 2, 0, 1, 0),
                      resample=Image.Resampling.BILINEAR)
    im = im.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR, expand=True)
    return np.asarray(im, np.float32) / 255


def on_page(ink: np.ndarray, rng: np.random.Generator, page: tuple[int, int] = PAGE) -> np.ndarray:
    """(H, W) float32 grayscale page in [0, 1]: ink (h, w) printed dark on light paper, somewhere
    near the middle, as a phone photographs it: grey or white paper, ink from black to grey, uneven
    light, blur, sensor noise and, one time in three, JPEG's blocks."""
    from scipy import ndimage

    h, w = page
    scale = min(1.0, 0.85 * h / ink.shape[0], 0.85 * w / ink.shape[1])
    if scale < 1:
        ink = ndimage.zoom(ink, scale, order=1)
    paper = rng.uniform(0.55, 1.0)
    level = rng.uniform(0.0, paper - 0.2)
    canvas = np.zeros(page, np.float32)
    top = int(rng.integers(0, h - ink.shape[0] + 1))
    left = int(rng.integers(0, w - ink.shape[1] + 1))
    canvas[top:top + ink.shape[0], left:left + ink.shape[1]] = ink[:h, :w]
    gray = paper - (paper - level) * canvas
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    gray = gray * (1 + rng.uniform(0, 0.4) * ((np.cos(angle) * xx + np.sin(angle) * yy) - 0.5))
    gray = ndimage.gaussian_filter(gray, rng.uniform(0, 2.5) * max(h, w) / max(PAGE))
    gray = np.clip(gray + rng.normal(0, rng.uniform(0, 0.08), page), 0, 1).astype(np.float32)
    if rng.random() < 1 / 3:
        gray = _jpeg(gray, int(rng.integers(20, 90)))
    return gray


def _jpeg(gray: np.ndarray, quality: int) -> np.ndarray:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(gray * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())), np.float32) / 255


def read(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray | None:
    """The (h, w) MNIST-style image predict would give the model for this page, or None where predict
    would refuse it (blank, no digit, several digits side by side)."""
    from ..errors import ImageError

    try:
        return prepare(gray, size)[0]
    except ImageError:
        return None


def printed(text: str, font: str | Path, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray | None:
    """text printed in font on a small photographed page, as predict reads it (None: it would refuse it)."""
    return read(on_page(glyph_ink(text, font, int(rng.integers(*SMALL_GLYPHS)), rng), rng, SMALL_PAGE), size)


def _touching(text: str, font: str | Path, height: int, rng: np.random.Generator) -> np.ndarray:
    """Digits in a row closer than the font sets them, down to touching and overlapping: the digit
    strings that predict cannot refuse as side by side."""
    glyphs = [glyph_ink(c, font, height, rng) for c in text]
    h = max(g.shape[0] for g in glyphs)
    step = [max(1, int(g.shape[1] * rng.uniform(0.45, 0.8))) for g in glyphs]
    row = np.zeros((h, sum(step[:-1]) + glyphs[-1].shape[1]), np.float32)
    left = 0
    for g, s in zip(glyphs, step):
        top = (h - g.shape[0]) // 2
        row[top:top + g.shape[0], left:left + g.shape[1]] = np.maximum(row[top:top + g.shape[0], left:left + g.shape[1]], g)
        left += s
    return row


def non_digits(n: int, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """(n, h, w) float32: letters (half), symbols (three tenths) and strings of digits set too close
    to be told apart, printed in the training fonts on photographed pages, as predict reads them."""
    fonts, out = training_fonts(), []
    while len(out) < n:
        font, u = fonts[int(rng.integers(len(fonts)))], rng.random()
        height = int(rng.integers(*SMALL_GLYPHS))
        if u < 0.8:
            chars = LETTERS if u < 0.5 else SYMBOLS
            c = chars[int(rng.integers(len(chars)))]
            if not has_glyphs(str(font), c):
                continue
            ink = glyph_ink(c, font, height, rng)
        else:
            ink = _touching("".join(str(d) for d in rng.integers(0, 10, int(rng.integers(2, 4)))), font, height, rng)
        image = read(on_page(ink, rng, SMALL_PAGE), size)
        if image is not None:
            out.append(image)
    return np.stack(out) if out else np.zeros((0, *size), np.float32)


def digits(n: int, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """(n, h, w) float32: single digits printed in the training fonts on photographed pages, as
    predict reads them: more of what a digit is, so that print itself is not what gets flagged."""
    fonts, out = training_fonts(), []
    while len(out) < n:
        image = printed(str(int(rng.integers(10))), fonts[int(rng.integers(len(fonts)))], rng, size)
        if image is not None:
            out.append(image)
    return np.stack(out) if out else np.zeros((0, *size), np.float32)

