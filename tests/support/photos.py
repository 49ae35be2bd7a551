"""Photo-like pictures of handwritten digits, and of things that are not digits, built on the fly.

The ink comes from MNIST test digits (handwriting the model never trained on), drawn as dark pen
strokes 8x larger on a page, then put through what a phone camera does to a page: uneven and
directional light, a shadow, grey ink on grey paper, a small digit far from the centre, other marks,
sensor noise, blur, JPEG, a portrait shot stored sideways with an EXIF orientation tag. Each
condition holds ten images, one of each digit; everything is seeded.

    python -m tests.support.photos DIR                        # write them as files, to look at
    python -m tests.support.photos --score artifacts/export    # the README's table for that model
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

PAGE = (240, 320)  # (H, W) of a page, as a downscaled phone photo
EXIF_ORIENTATION = 0x0112


def pick_digits(images: np.ndarray, labels: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """One test image of each digit 0..9, chosen at random (not by how well any model reads it)."""
    rng = np.random.default_rng(seed)
    return [images[rng.choice(np.flatnonzero(labels == d))] for d in range(10)]


def _ink(digit: np.ndarray, height: int) -> np.ndarray:
    """An MNIST digit (28, 28) uint8, white on black, as ink coverage in [0, 1] `height` pixels tall."""
    from PIL import Image

    big = Image.fromarray(digit).resize((height, height), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big, np.float32) / 255 * 1.3 - 0.15, 0, 1)


def _page(rng, paper=0.92, ink_level=0.12, digit=None, size=0.62, centre=(0.5, 0.5), page=PAGE):
    """Paper brightness everywhere, ink darkening it where the digit is. Returns (H, W) in [0, 1]."""
    h, w = page
    img = np.full(page, paper, np.float32)
    if digit is not None:
        side = int(min(h, w) * size)
        cov = _ink(digit, side)
        top = int(np.clip(centre[0] * h - side / 2 + rng.integers(-4, 5), 0, h - side))
        left = int(np.clip(centre[1] * w - side / 2 + rng.integers(-4, 5), 0, w - side))
        region = img[top:top + side, left:left + side]
        region[...] = region * (1 - cov) + ink_level * cov
    return img


def _light(img, rng, amplitude, direction=None):
    """Multiply by a linear illumination ramp: +-amplitude grey levels (of 255) across the page."""
    h, w = img.shape
    angle = rng.uniform(0, 2 * np.pi) if direction is None else direction
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = ((yy / h - 0.5) * np.sin(angle) + (xx / w - 0.5) * np.cos(angle)) * 2  # about -1..1
    return np.clip(img + ramp * amplitude / 255, 0, 1)


def _shadow(img, rng):
    """A soft dark band (a hand or phone's shadow) across a third of the page."""
    from scipy.ndimage import gaussian_filter

    h, w = img.shape
    mask = np.zeros((h, w), np.float32)
    start = rng.integers(0, w // 2)
    mask[:, start:start + w // 3] = 1
    mask = gaussian_filter(mask, 12)
    return img * (1 - 0.45 * mask)


def _marks(img, rng):
    """A few small stray marks (dots, a short line) away from the middle of the page."""
    h, w = img.shape
    out = img.copy()
    for _ in range(3):
        y, x = rng.integers(5, h // 6), rng.integers(5, w - 12)
        if rng.random() < 0.5:
            y = h - 1 - y
        out[y:y + 3, x:x + rng.integers(3, 12)] = 0.15
    return out


def _blur(img, sigma):
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(img, sigma)


def _noise(img, rng, sigma):
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 1)


def _png(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(img: np.ndarray, quality: int, exif_turn: int | None = None) -> bytes:
    """JPEG bytes; with exif_turn (6 or 8), the pixels are stored turned and the EXIF tag says how to
    turn them back, as phones store portrait shots."""
    from PIL import Image

    im = Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
    exif = Image.Exif()
    if exif_turn is not None:
        # tag 6: the viewer must turn the stored pixels 90 degrees clockwise; store them turned back
        im = im.transpose(Image.Transpose.ROTATE_90 if exif_turn == 6 else Image.Transpose.ROTATE_270)
        exif[EXIF_ORIENTATION] = exif_turn
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def digit_photos(digits: list[np.ndarray], seed: int = 0) -> dict[str, list[tuple[int, bytes]]]:
    """condition -> [(label, encoded image)] for the ten digits."""
    rng = np.random.default_rng(seed)
    portrait = (PAGE[1], PAGE[0])
    conditions = {
        "clean drawing": lambda d: _png(_page(rng, 1.0, 0.0, d)),
        "grey paper, uneven light +-30": lambda d: _png(_light(_page(rng, 0.72, 0.15, d), rng, 30)),
        "directional light +-60": lambda d: _png(_light(_page(rng, 0.8, 0.12, d), rng, 60)),
        "shadow across the page": lambda d: _png(_shadow(_light(_page(rng, 0.85, 0.12, d), rng, 15), rng)),
        "grey ink on grey paper": lambda d: _png(_page(rng, 0.62, 0.38, d)),
        "small digit far from the centre": lambda d: _png(_page(rng, 0.9, 0.1, d, size=0.22,
                                                               centre=(rng.uniform(0.2, 0.8), rng.choice([0.15, 0.85])))),
        "stray marks on the page": lambda d: _png(_marks(_page(rng, 0.9, 0.1, d, size=0.5), rng)),
        "sensor noise": lambda d: _png(_noise(_page(rng, 0.85, 0.15, d), rng, 0.08)),
        "blur": lambda d: _png(_blur(_page(rng, 0.9, 0.1, d), 2.5)),
        "JPEG quality 25": lambda d: _jpeg(_light(_page(rng, 0.88, 0.12, d), rng, 20), 25),
        "portrait, EXIF-rotated": lambda d: _jpeg(_light(_page(rng, 0.9, 0.1, d, page=portrait), rng, 20), 85,
                                                  exif_turn=int(rng.choice([6, 8]))),
    }
    return {name: [(label, make(d)) for label, d in enumerate(digits)] for name, make in conditions.items()}


def _text(draw_text: str, height: int, rng) -> np.ndarray:
    """Dark text on white paper, (height, ~) in [0, 1]."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=int(height * 0.7))
    im = Image.new("L", (int(height * 0.75 * max(1, len(draw_text))) + 20, height), 255)
    ImageDraw.Draw(im).text((10, height * 0.1), draw_text, fill=int(rng.integers(0, 60)), font=font)
    return np.asarray(im, np.float32) / 255


def _place(page: np.ndarray, patch: np.ndarray, rng) -> np.ndarray:
    h, w = page.shape
    ph, pw = min(patch.shape[0], h), min(patch.shape[1], w)
    top, left = rng.integers(0, h - ph + 1), rng.integers(0, w - pw + 1)
    page[top:top + ph, left:left + pw] = np.minimum(page[top:top + ph, left:left + pw], patch[:ph, :pw])
    return page


def non_digits(seed: int = 0) -> dict[str, list[bytes]]:
    """kind -> encoded pictures that hold no digit: near-blank pages, noise, letters, shapes, text."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    out: dict[str, list[bytes]] = {}
    out["near-blank page"] = [_png(_light(_noise(np.full(PAGE, rng.uniform(0.6, 0.95), np.float32), rng, 0.02),
                                          rng, rng.uniform(0, 40))) for _ in range(10)]
    out["noise"] = [_png(rng.random(PAGE).astype(np.float32)) for _ in range(5)] + \
                   [_png(_blur(rng.random(PAGE).astype(np.float32), 3) * 2 - 0.5) for _ in range(5)]
    letters = "ABEFHKMNPRWXYaefhkmnrwx"
    out["letters"] = [_png(_place(np.full(PAGE, 0.92, np.float32), _text(c, 150, rng), rng))
                      for c in rng.choice(list(letters), 20, replace=False)]
    shapes = []
    for i in range(20):
        im = Image.new("L", PAGE[::-1], 235)
        d = ImageDraw.Draw(im)
        cx, cy, r = PAGE[1] // 2 + rng.integers(-40, 40), PAGE[0] // 2 + rng.integers(-30, 30), rng.integers(40, 90)
        kind = i % 5
        if kind == 0:
            d.rectangle((cx - r, cy - r, cx + r, cy + r), outline=20, width=8)
        elif kind == 1:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], outline=20, width=8)
        elif kind == 2:
            d.rectangle((cx - r, cy - r // 2, cx + r, cy + r // 2), fill=25)
        elif kind == 3:
            pts = [(cx + r * np.cos(a) * (1 if k % 2 == 0 else 0.45), cy + r * np.sin(a) * (1 if k % 2 == 0 else 0.45))
                   for k, a in enumerate(np.linspace(-np.pi / 2, 3 * np.pi / 2, 11)[:-1])]
            d.polygon(pts, fill=25)
        else:
            d.ellipse((cx - r, cy - r // 2, cx + r, cy + r // 2), fill=25)
        shapes.append(_png(np.asarray(im, np.float32) / 255))
    out["shapes"] = shapes
    words = ["the quick brown fox", "jumps over the lazy", "dog and runs away", "lorem ipsum dolor", "sit amet elit"]
    texts = []
    for _ in range(10):
        page = np.full(PAGE, 0.9, np.float32)
        for line, y in enumerate(range(20, PAGE[0] - 30, 34)):
            patch = _text(words[(line + int(rng.integers(0, 5))) % len(words)], 30, rng)
            page[y:y + 30, 10:10 + min(patch.shape[1], PAGE[1] - 20)] = patch[:, :PAGE[1] - 20]
        texts.append(_jpeg(_light(page, rng, 25), 70))
    out["photo of text"] = texts
    return out


def _suffix(data: bytes) -> str:
    return "jpg" if data[:2] == b"\xff\xd8" else "png"


def score(export_dir: str, seed: int = 0) -> str:
    """Markdown: per condition, digits read right and flagged; per kind of non-digit, how many were
    refused (blank, no digit) or flagged uncertain. `seed` draws the photo set (0: the one the tests use)."""
    import json
    import tempfile

    from scratchnet.data.idx import read_idx
    from scratchnet.serving.predict import predict
    from tests.support.data import mnist_dir

    mnist = mnist_dir()
    digits = pick_digits(read_idx(mnist / "t10k-images-idx3-ubyte.gz"), read_idx(mnist / "t10k-labels-idx1-ubyte.gz"))
    rows = ["| condition | right | flagged uncertain |", "| --- | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as tmp:
        def run(name, blobs):
            paths = []
            for i, data in enumerate(blobs):
                paths.append(Path(tmp) / f"{name}-{i}.{_suffix(data)}")
                paths[-1].write_bytes(data)
            return predict(paths, export_dir)
        for condition, items in digit_photos(digits, seed).items():
            results = run(condition, [d for _, d in items])
            right = sum(r.get("digit") == label for r, (label, _) in zip(results, items))
            flagged = sum(r.get("uncertain", False) for r in results)
            rows.append(f"| {condition} | {right}/{len(items)} | {flagged}/{len(items)} |")
        rows += ["", "| not a digit | refused (blank, no digit, several) | flagged uncertain | said \"not a digit\" |",
                 "| --- | ---: | ---: | ---: |"]
        said = total = 0
        for kind, blobs in non_digits(seed).items():
            results = run(kind, blobs)
            blank = sum("error" in r for r in results)
            flagged = sum(r.get("uncertain", False) for r in results)
            said, total = said + blank + flagged, total + len(results)
            rows.append(f"| {kind} | {blank}/{len(results)} | {flagged}/{len(results)} | {blank + flagged}/{len(results)} |")
        rows.append(f"| **all** | | | **{said}/{total} ({said / total:.0%})** |")
    metrics = Path(export_dir).parent / "metrics" / "detector.json"  # artifacts/export -> artifacts/metrics
    rate = json.loads(metrics.read_text()) if metrics.is_file() else {}
    if "uncertain_test_rate" in rate:
        rows.append(f"\nMNIST test digits flagged uncertain: {rate['uncertain_test_rate']:.2%}")
    return "\n".join(rows)


def main() -> None:
    import sys

    from scratchnet.data.idx import read_idx
    from tests.support.data import mnist_dir

    if mnist_dir() is None:
        sys.exit("the MNIST test images are needed: set SCRATCHNET_MNIST_DIR to a folder holding the IDX files")
    if sys.argv[1] == "--score":  # --score EXPORT_DIR [SEED] [--write FILE]: FILE's "photo scores" section
        args = sys.argv[2:]
        target = None
        if "--write" in args:
            target = Path(args[args.index("--write") + 1])
            del args[args.index("--write"):args.index("--write") + 2]
        table = score(args[0], int(args[1]) if len(args) > 1 else 0)
        if target is None:
            print(table)
        else:
            from bench.sections import write_section

            command = f"`python -m tests.support.photos --score {args[0]} --write {target.as_posix()}`"
            write_section(target, "photo scores", command, table)
        return
    folder = Path(sys.argv[1])
    mnist = mnist_dir()
    digits = pick_digits(read_idx(mnist / "t10k-images-idx3-ubyte.gz"), read_idx(mnist / "t10k-labels-idx1-ubyte.gz"))
    for condition, items in digit_photos(digits).items():
        for label, data in items:
            name = condition.replace(" ", "_").replace(",", "").replace("+-", "pm")
            (folder / "digits" / name).mkdir(parents=True, exist_ok=True)
            (folder / "digits" / name / f"{label}.{_suffix(data)}").write_bytes(data)
    for kind, items in non_digits().items():
        (folder / "non-digits" / kind.replace(" ", "_")).mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(items):
            (folder / "non-digits" / kind.replace(" ", "_") / f"{i}.{_suffix(data)}").write_bytes(data)


if __name__ == "__main__":
    main()
