"""The `uncertain` flag on kinds of non-digits the detector never saw, and on digits beyond MNIST's.

Every set here is apart from what the detector learns from (stages/negatives.py) by construction:

- printed letters and symbols in the held-out fonts: every font installed on this machine that is
  not one of matplotlib's (which the negatives stage prints in), and Pillow's own; letters a digit
  can pass for (vision/printed.py's DIGIT_LIKE) left out;
- drawn letters from another generator: held-out glyphs bent by a smooth random displacement field
  and redrawn with a random pen, where the negatives stage draws letters from stroke skeletons;
- strings of two to four digits, printed in the held-out fonts or written (MNIST test digits) side
  by side, touching or not (the negatives stage prints strings too, in its own fonts, set touching);
- crops of natural photos (scikit-learn's two sample images; nothing in the pipeline reads them);
- digits: MNIST's test split, the photo set of tests/support/photos.py, and digits printed in the
  held-out fonts.

Each page is read as `predict` reads a picture; a non-digit counts as caught when it is flagged
`uncertain` or refused (blank, no digit, several digits).

    python -m bench.open_set [EXPORT_DIR] [--write]   # --write: its section of docs/predict-and-serve.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is not an installed package

from bench.sections import write_section  # noqa: E402
from scratchnet.vision import printed  # noqa: E402

DOC = ROOT / "docs" / "predict-and-serve.md"
SCRIPT = "`python -m bench.open_set artifacts/export --write`"
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
TRAINING_FAMILIES = ("DejaVu", "STIX", "cm")  # matplotlib's fonts: the ones the negatives stage prints in
N = {"letters": 400, "drawn": 200, "symbols": 200, "strings": 200, "natural": 200, "printed_digits": 3}


def held_out_fonts() -> list[str]:
    """Font files on this machine the negatives stage never prints in, and "" (Pillow's own font)."""
    found = {p for d in FONT_DIRS if d.is_dir() for p in d.rglob("*.[ot]tf")}
    keep = sorted(str(p) for p in found if not p.name.startswith(TRAINING_FAMILIES) and printed.has_glyphs(str(p), "Ax5"))
    return ["", *keep]


def _page(ink: np.ndarray, rng: np.random.Generator, page: tuple[int, int] = (240, 320)) -> np.ndarray:
    """(H, W) grayscale page in [0, 1]: ink (h, w) dark on light paper somewhere on it, under uneven
    light, a little blur and noise: this check's own photographs, not the negatives stage's."""
    from scipy import ndimage

    h, w = page
    scale = min(1.0, 0.85 * h / ink.shape[0], 0.85 * w / ink.shape[1])
    if scale < 1:
        ink = ndimage.zoom(ink, scale, order=1)
    paper, level = rng.uniform(0.7, 1.0), rng.uniform(0.0, 0.35)
    canvas = np.zeros(page, np.float32)
    top, left = int(rng.integers(0, h - ink.shape[0] + 1)), int(rng.integers(0, w - ink.shape[1] + 1))
    canvas[top:top + ink.shape[0], left:left + ink.shape[1]] = ink[:h, :w]
    gray = paper - (paper - level) * canvas
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    gray = gray * (1 + rng.uniform(0, 0.25) * ((np.cos(angle) * xx + np.sin(angle) * yy) - 0.5))
    gray = ndimage.gaussian_filter(gray, rng.uniform(0, 1.5))
    return np.clip(gray + rng.normal(0, rng.uniform(0, 0.03), page), 0, 1).astype(np.float32)


def _pen(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ink bent by a smooth random displacement field and redrawn with a pen from a little thinner to
    a little bolder than the font's (never so bold that it fills the letter's openings): a letter as
    a hand might draw it, by another generator than the negatives stage's stroke skeletons."""
    from scipy import ndimage

    h, w = ink.shape
    size = max(h, w)
    field = [ndimage.gaussian_filter(rng.uniform(-1, 1, ink.shape), size / 10) for _ in range(2)]
    field = [f / (np.abs(f).max() + 1e-9) * size * rng.uniform(0.03, 0.08) for f in field]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    stroke = ndimage.map_coordinates(ink, [yy + field[0], xx + field[1]], order=1) > 0.5
    change = int(round(rng.uniform(-1.5, 2) * size / 120))
    if change > 0:
        stroke = ndimage.binary_dilation(stroke, iterations=change)
    elif change < 0 and ndimage.binary_erosion(stroke, iterations=-change).any():
        stroke = ndimage.binary_erosion(stroke, iterations=-change)
    return ndimage.gaussian_filter(stroke.astype(np.float32), 0.8)


def _digit_string(rng: np.random.Generator, fonts: list[str], mnist: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A page with two to four digits in a row: printed in a held-out font, or MNIST test digits."""
    n = int(rng.integers(2, 5))
    if rng.random() < 0.5:
        text = "".join(str(d) for d in rng.integers(0, 10, n))
        return _page(printed.glyph_ink(text, fonts[int(rng.integers(len(fonts)))], int(rng.integers(40, 120)), rng), rng)
    images = mnist[0][rng.integers(0, len(mnist[0]), n)].astype(np.float32) / 255
    gap = int(rng.integers(-6, 4))  # overlapping, touching or apart
    row = np.zeros((28, 28 * n + gap * (n - 1) + 8), np.float32)
    for i, image in enumerate(images):
        left = 4 + i * (28 + gap)
        row[:, left:left + 28] = np.maximum(row[:, left:left + 28], image)
    from scipy import ndimage

    return _page(ndimage.zoom(row, rng.uniform(2, 4), order=1), rng)


def _natural(rng: np.random.Generator, photos: list[np.ndarray]) -> np.ndarray:
    photo = photos[int(rng.integers(len(photos)))]
    side = int(rng.integers(48, min(photo.shape[:2])))
    top, left = int(rng.integers(0, photo.shape[0] - side + 1)), int(rng.integers(0, photo.shape[1] - side + 1))
    return photo[top:top + side, left:left + side].mean(axis=2).astype(np.float32) / 255


def pages(mnist: tuple[np.ndarray, np.ndarray], seed: int = 0) -> dict[str, list[tuple[np.ndarray, int | None]]]:
    """kind -> [(page (H, W) in [0, 1], its digit or None)] for every set but MNIST's test split."""
    from sklearn.datasets import load_sample_images

    rng = np.random.default_rng(seed)
    fonts = held_out_fonts()
    letter_fonts = [f for f in fonts if printed.has_glyphs(f, printed.LETTERS)]
    out: dict[str, list] = {}

    def pick(chars: str, fonts_: list[str], n: int) -> list[tuple[str, str]]:
        pairs = [(c, f) for f in fonts_ for c in chars if printed.has_glyphs(f, c)]
        return [pairs[i] for i in rng.choice(len(pairs), min(n, len(pairs)), replace=False)]

    out["printed letters, held-out fonts"] = [
        (_page(printed.glyph_ink(c, f, int(rng.integers(40, 160)), rng), rng), None)
        for c, f in pick(printed.LETTERS, letter_fonts, N["letters"])]
    out["drawn letters, another generator"] = [
        (_page(_pen(printed.glyph_ink(c, f, int(rng.integers(60, 140)), rng), rng), rng), None)
        for c, f in pick(printed.LETTERS, letter_fonts, N["drawn"])]
    out["printed symbols, held-out fonts"] = [
        (_page(printed.glyph_ink(c, f, int(rng.integers(40, 160)), rng), rng), None)
        for c, f in pick(printed.SYMBOLS, fonts, N["symbols"])]
    out["strings of 2 to 4 digits"] = [(_digit_string(rng, fonts, mnist), None) for _ in range(N["strings"])]
    photos = list(load_sample_images().images)
    out["crops of natural photos"] = [(_natural(rng, photos), None) for _ in range(N["natural"])]
    out["printed digits, held-out fonts"] = [
        (_page(printed.glyph_ink(str(d), f, int(rng.integers(40, 160)), rng), rng), d)
        for f in fonts for d in range(10) for _ in range(N["printed_digits"]) if printed.has_glyphs(f, str(d))]
    return out


def score(export_dir: Path, mnist_dir: Path, seed: int = 0) -> dict[str, dict]:
    """kind -> {"n", "caught" (non-digits: flagged or refused) or "right" and "flagged" (digits)}."""
    from scratchnet.data.idx import read_idx
    from scratchnet.errors import ImageError
    from scratchnet.serving.predict import Reader
    from tests.support.photos import digit_photos, pick_digits

    reader = Reader.load(export_dir)
    test = (read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz"), read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz"))
    results: dict[str, dict] = {}
    answers = reader.classify(test[0].astype(np.float32) / 255)
    results["MNIST test digits"] = {"n": len(answers), "digits": True,
                                    "right": sum(a["digit"] == int(y) for a, y in zip(answers, test[1])),
                                    "flagged": sum(a["uncertain"] for a in answers), "refused": 0}
    sets = pages(test, seed)
    photo_set = [(blob, label) for items in digit_photos(pick_digits(*test)).values() for label, blob in items]
    for kind, items in [("photo set (tests/support/photos.py)", photo_set), *sets.items()]:
        images, marks, labels, refused = [], [], [], 0
        for page, label in items:
            try:
                image, others = (reader.read(page, kind) if isinstance(page, bytes)
                                 else printed.prepare(page, reader.size, name=kind))
            except ImageError:
                refused += 1
                continue
            images.append(image)
            marks.append(others)
            labels.append(label)
        answers = reader.classify(np.stack(images), marks) if images else []
        flagged = sum(a["uncertain"] for a in answers)
        digits = items[0][1] is not None
        row = {"n": len(items), "digits": digits, "refused": refused, "flagged": flagged}
        if digits:
            row["right"] = sum(a["digit"] == y and not a["uncertain"] for a, y in zip(answers, labels))
        results[kind] = row
    return results


def table(results: dict[str, dict]) -> str:
    rows = ["| kind | pictures | flagged `uncertain` | refused | caught (flagged or refused) |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for kind, r in results.items():
        if not r["digits"]:
            caught = r["flagged"] + r["refused"]
            rows.append(f"| {kind} | {r['n']} | {r['flagged']} | {r['refused']} | **{caught / r['n']:.1%}** |")
    rows += ["", "| digits | pictures | read right, not flagged | flagged `uncertain` | refused |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for kind, r in results.items():
        if r["digits"]:
            rows.append(f"| {kind} | {r['n']} | {r['right']} | {r['flagged']} ({r['flagged'] / r['n']:.2%}) | {r['refused']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export_dir", nargs="?", type=Path, default=Path("artifacts/export"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--write", action="store_true", help=f"rewrite its section of {DOC.relative_to(ROOT)}")
    args = parser.parse_args()
    from tests.support.data import mnist_dir

    mnist = mnist_dir()
    if mnist is None:
        sys.exit("the MNIST test images are needed: set SCRATCHNET_MNIST_DIR to a folder holding the IDX files")
    results = score(args.export_dir, mnist, args.seed)
    text = table(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.write:
        fonts = ", ".join(Path(f).stem if f else "Pillow's own" for f in held_out_fonts())
        write_section(DOC, "open set", SCRIPT, f"Held-out fonts on the machine that made it: {fonts}.\n\n{text}")


if __name__ == "__main__":
    main()
