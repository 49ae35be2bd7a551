"""Reading a picture of a digit the way MNIST was made, whatever the picture: one code path for
`scratchnet predict` and `scratchnet serve`.

decode (EXIF orientation applied) -> flatten the page's background -> Otsu threshold -> the digit's
connected ink, other marks dropped -> fit a 20x20 box in 28x28 with the centre of mass at the centre.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from ..errors import ImageError
from .mnist_box import fit_box

MAX_PIXELS = 50_000_000  # decoded size bound: a 7000x7000 photo fits, a decompression bomb does not
# bytes the reading of one picture may hold at once, judged from its header before decoding (peak_bytes):
# a 24-megapixel phone photo, RGB(A) or 16-bit, fits; the worst case of one reading is this plus WORK_BYTES
DECODE_BUDGET = 150 * 2**20
WORK_BYTES = 32 * 2**20  # the reduced picture's float copies, the ink map and the model's input, at most
PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}  # else 4 (Pillow keeps LA, PA in 4)
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
ORIENTATION = 0x0112  # the EXIF tag
WORK_SIDE = 320  # a page is analysed at most this many pixels on its long side: enough for a digit
MIN_CONTRAST = 0.15  # ink must darken the paper by this fraction to count as a digit
MAX_INK_FRACTION = 0.25  # "ink" over more of the page is noise or texture (digit pages: under 0.09)
MIN_STROKE = 0.05  # a stroke thinner than this share of the digit's long side (a hairline; MNIST's pen: 2-3 pixels of 20) is thickened to it
NEIGHBOUR_HEIGHT = 0.6  # a blob beside the digit, at least this share of its height, is a second digit


def _open(source: Path | bytes, path: str):
    """A PIL image from a file or from bytes (an upload); `path` names it in messages."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses (rather than warns about) anything twice this

    if isinstance(source, Path):
        if source.is_dir():
            raise ImageError(f"{path}: a folder, not an image file (give the files, e.g. {path}/*.png)")
        if not source.is_file():
            raise ImageError(f"{path}: file not found")
        if source.stat().st_size == 0:
            raise ImageError(f"{path}: empty file", "empty")
    elif not source:
        raise ImageError(f"{path}: empty file", "empty")
    try:
        with warnings.catch_warnings():  # the size check below says it in one line instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(source if isinstance(source, Path) else io.BytesIO(source))
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read", "not_image") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: too large to decode safely ({e})", "too_large") from None
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: cannot open ({e})") from None
    try:
        size, frames = im.width * im.height, getattr(im, "n_frames", 1)
    except Exception as e:  # a damaged header Pillow only trips over here (TIFF: "Missing dimensions")
        raise ImageError(f"{path}: cannot decode ({e})") from None
    if size > MAX_PIXELS:
        raise ImageError(f"{path}: {im.width}x{im.height} is above the {MAX_PIXELS:,}-pixel bound", "too_large")
    if frames > 1 and im.format != "MPO":  # a phone's JPEG with a second image (a gain map): the first is the photo
        raise ImageError(f"{path}: has {frames} frames (animated or multi-page); give a single image")
    return im


def to_gray(source: Path | str | bytes, *, name: str | None = None, deadline: float | None = None) -> np.ndarray:
    """Decode an image file (or its bytes) to float32 (H, W) in [0, 1], 0 = black, upright as its EXIF
    orientation says; alpha composited over white. A picture over 2 * WORK_SIDE on its long side is
    reduced by a whole factor (area averages) to between 2 and 4 * WORK_SIDE while still 8-bit, so no
    float copy of the full picture is ever made.

    Memory is bounded by design: the header's size is checked against DECODE_BUDGET before decoding,
    a JPEG is decoded at the smallest scale (1/2, 1/4, 1/8) that keeps 2 * WORK_SIDE, and every
    conversion after that is of the reduced picture but one, to an 8-bit form of at most 2 bytes a
    pixel. `deadline` (time.monotonic()) is checked between the steps: past it, ImageError "timeout"."""
    from PIL import ImageChops

    source = source if isinstance(source, bytes) else Path(source)
    path = name or str(source if isinstance(source, Path) else "upload")
    im = _open(source, path)
    try:
        needs = _plan(im)
        if needs > DECODE_BUDGET:
            raise ImageError(f"{path}: {im.width}x{im.height} {im.mode} needs {needs / 2**20:.0f} MiB to read, over the "
                             f"{DECODE_BUDGET / 2**20:.0f} MiB budget; a digit needs far fewer pixels (send it smaller)", "too_large")
        im.load()
        orientation = im.getexif().get(ORIENTATION, 1)  # after load: a PNG may keep its EXIF after the pixels
        sixteen = im.mode in SIXTEEN_BIT
        _check(deadline, path)
        bands = _one_band(im)
        del im  # the full-size decode goes; only 8-bit bands of it remain
        if len(bands) == 2:  # premultiply by alpha, so that reducing averages what is seen
            bands[0] = ImageChops.multiply(*bands)
        factor = max(bands[0].size) // (2 * WORK_SIDE)
        if factor > 1:
            bands = [b.reduce(factor) for b in bands]  # box averages: a thin dark stroke fades but stays
        _check(deadline, path)
        if orientation in UPRIGHT:  # phones store portrait shots sideways plus a tag
            bands = [b.transpose(UPRIGHT[orientation]) for b in bands]
        gray = np.array(bands[0], dtype=np.float32)  # a copy: Pillow's F buffer is read-only
        if bands[0].mode == "I":
            gray /= 65535.0 if sixteen or gray.max() > 255 else 255.0
        elif bands[0].mode == "F":
            gray /= max(float(gray.max()), 1e-6)
        else:
            gray /= 255.0
        if len(bands) == 2:  # luminance premultiplied by alpha: composite over white
            gray += 1 - np.asarray(bands[1], dtype=np.float32) / 255
        return np.clip(gray, 0, 1)
    except (OSError, ValueError, SyntaxError, TypeError, EOFError) as e:  # Pillow's decoders raise any of these
        raise ImageError(f"{path}: cannot decode ({e})") from None


# EXIF orientation -> the transpose that makes the picture upright (as PIL.ImageOps.exif_transpose does)
UPRIGHT = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # Image.Transpose: FLIP_LEFT_RIGHT 0, FLIP_TOP_BOTTOM 1,
#                                                     ROTATE_90 2, ROTATE_180 3, ROTATE_270 4, TRANSPOSE 5, TRANSVERSE 6


def _plan(im) -> int:
    """Set a JPEG to decode at the smallest scale that keeps 2 * WORK_SIDE; return the bytes reading
    the picture will hold at once."""
    long_side = max(im.size)
    if im.format in ("JPEG", "MPO") and long_side > 2 * WORK_SIDE:  # the decoder itself skips the detail
        scale = 2 * WORK_SIDE / long_side
        im.draft("L" if im.mode in ("L", "RGB") else im.mode, (max(1, int(im.width * scale)), max(1, int(im.height * scale))))
    return im.width * im.height * peak_bytes(im.mode, "transparency" in im.info)


def reading_cost(data: bytes) -> int:
    """Bytes to_gray would hold at once to read this picture, from its header alone (0 for bytes that
    are no picture: they are refused at once)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _plan(_open(data, "upload"))
    except Exception:  # anything the header trips on is for to_gray to report
        return 0


def peak_bytes(mode: str, transparency: bool) -> int:
    """Bytes per pixel to_gray holds at once for a picture of this mode: the decoded picture and the
    full-size bands _one_band makes of it (8-bit; 32-bit for 16-bit pictures)."""
    native = PIXEL_BYTES.get(mode, 4)
    if mode in SIXTEEN_BIT:
        return native + 4
    if mode in ("I", "F", "L") and not transparency:
        return native
    if mode in ("P", "PA", "LA", "RGBA", "RGBa", "La") or transparency:  # made LA (4 bytes) by way of RGBA, then split
        return native + (0 if mode in ("RGBA", "LA") else 4 + 4) + 2
    return native + 1


def _one_band(im) -> list:
    """The decoded picture as the bands to reduce: [L], or [L, alpha] where it has transparency, or
    [I] / [F] for 16-bit and float pictures. Each 8-bit band is 1 byte a pixel beside the decoded picture."""
    if im.mode in SIXTEEN_BIT:
        return [im.convert("I")]
    if im.mode in ("I", "F", "L") and "transparency" not in im.info:
        return [im]
    if im.mode in ("P", "PA", "LA", "RGBA", "RGBa", "La") or "transparency" in im.info:
        if im.mode == "RGBa":  # premultiplied: Pillow's RGBa -> LA would drop the alpha
            im = im.convert("RGBA")
        if im.mode not in ("RGBA", "LA"):
            im = im.convert("LA")
        alpha = im.getchannel("A")
        return [im.convert("L"), alpha]
    return [im.convert("L")]


def _check(deadline: float | None, path: str) -> None:
    import time

    if deadline is not None and time.monotonic() > deadline:
        raise ImageError(f"{path}: took too long to read; try again, or send a smaller picture", "timeout")


def blank(name: str) -> ImageError:
    """The error for a picture (or array) where no ink reaches MIN_CONTRAST."""
    return ImageError(f"{name}: looks blank (no ink stands out from the background); nothing to classify", "blank")


def _work_size(gray: np.ndarray) -> np.ndarray:
    """gray (H, W) shrunk (area-averaged) so its long side is at most WORK_SIDE."""
    from PIL import Image

    h, w = gray.shape
    scale = WORK_SIDE / max(h, w)
    if scale >= 1:
        return gray
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(gray.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))


def ink_map(gray: np.ndarray) -> np.ndarray:
    """(H, W) grayscale in [0, 1] -> ink (H, W) in [0, 1], with the page's background flattened.

    Dark ink on light paper (the usual photo): the paper's brightness under uneven light and
    shadows is estimated by a grey closing (a max then a min filter wider than any stroke, which
    erases the ink), and ink = 1 - gray / paper: the light's gradient divides out. Light ink on a
    dark ground (a canvas drawing, MNIST itself): a grey opening estimates the ground, and
    ink = gray - ground.
    """
    from scipy import ndimage

    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    # the page is whichever end of the image's range the border sits nearer: dim paper is still paper
    low, high = np.percentile(gray, [0.05, 99.95])  # extremes, bar a few hot pixels: a small digit counts
    dark_on_light = float(np.median(border)) > (low + high) / 2
    width = max(3, max(h, w) // 8) | 1  # wider than a stroke of a digit that fills the page
    smooth = ndimage.gaussian_filter(gray, max(0.7, max(h, w) / 400))  # sensor noise, JPEG blocks
    if dark_on_light:
        paper = ndimage.uniform_filter(ndimage.grey_closing(smooth, size=(width, width)), width)
        return np.clip(1 - smooth / np.maximum(paper, 1e-3), 0, 1)
    ground = ndimage.uniform_filter(ndimage.grey_opening(smooth, size=(width, width)), width)
    return np.clip(smooth - ground, 0, 1)


def _otsu(values: np.ndarray) -> float:
    """The threshold that best splits values (in [0, 1]) into two classes (Otsu's method)."""
    hist, edges = np.histogram(values, bins=256, range=(0, 1))
    p = hist / max(hist.sum(), 1)
    omega = np.cumsum(p)
    mu = np.cumsum(p * (edges[:-1] + edges[1:]) / 2)
    between = (mu[-1] * omega - mu) ** 2 / np.maximum(omega * (1 - omega), 1e-12)
    return float(edges[int(np.argmax(between)) + 1])


def find_digit(ink: np.ndarray, *, name: str = "image") -> tuple[np.ndarray, int]:
    """ink (H, W) in [0, 1] -> (the digit's ink alone, cropped to it, normalised to [0, 1]; how many
    other marks on the page are at least a fifth of its size).

    Otsu's threshold splits ink from page; among the connected blobs of ink, the digit is the one
    with the most ink, together with any blob close to it (a stroke the pen lifted from). Marks
    elsewhere on the page are dropped. A page where no ink stands out is refused as blank; one where
    "ink" covers more than a quarter of it (noise, texture) as holding no digit.
    """
    from scipy import ndimage

    t = _otsu(ink)
    mask = ink > t
    strong = float(np.percentile(ink[mask], 90)) if mask.any() else 0.0
    if strong < MIN_CONTRAST:
        raise blank(name)
    if mask.mean() > MAX_INK_FRACTION:
        raise ImageError(f"{name}: no digit found: marks cover {mask.mean():.0%} of the page, more than a digit does "
                         "(noise or texture?)", "no_digit")
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    index = np.arange(1, count + 1)
    mass = ndimage.sum_labels(ink, labels, index)
    boxes = ndimage.find_objects(labels)
    main = int(np.argmax(mass))
    r, c = boxes[main]
    beside = [i for i, (br, bc) in enumerate(boxes) if i != main and side_by_side((r, c), (br, bc)) and mass[i] >= 0.1 * mass[main]]
    if beside:
        raise ImageError(f"{name}: holds {len(beside) + 1} marks side by side, each the height of a digit: more than one "
                         "digit? Send one digit per picture", "several_digits")
    pad_r, pad_c = (r.stop - r.start) // 3 + 2, (c.stop - c.start) // 3 + 2
    near = [i for i, (br, bc) in enumerate(boxes)
            if mass[i] >= 0.02 * mass[main] and br.start < r.stop + pad_r and br.stop > r.start - pad_r
            and bc.start < c.stop + pad_c and bc.stop > c.start - pad_c]
    others = int((mass >= 0.2 * mass[main]).sum()) - len([i for i in near if mass[i] >= 0.2 * mass[main]])
    keep = ndimage.binary_dilation(np.isin(labels, index[near]), iterations=2)
    rows, cols = np.flatnonzero(keep.any(1)), np.flatnonzero(keep.any(0))
    digit = np.where(keep, ink, 0)[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    # MNIST's strokes are solid white with soft edges: the stroke's own level maps to 1
    return to_mnist_weight(np.clip((digit - t / 2) / max(strong - t / 2, 1e-6), 0, 1)), others


def side_by_side(main: tuple[slice, slice], other: tuple[slice, slice]) -> bool:
    """Whether the blob boxed by `other` (rows, cols) stands beside the digit boxed by `main` as a
    second digit would: clear of it left or right, mostly level with it, and nearly as tall. A
    pen-lifted stroke of the same digit (the bar of a 5, the foot of a 4) is shorter or overlaps it."""
    (r, c), (br, bc) = main, other
    height = r.stop - r.start
    level = min(r.stop, br.stop) - max(r.start, br.start)
    clear = bc.start >= c.stop or bc.stop <= c.start
    return clear and br.stop - br.start >= NEIGHBOUR_HEIGHT * height and level >= 0.5 * height


def to_mnist_weight(digit: np.ndarray) -> np.ndarray:
    """digit (H, W) in [0, 1], cropped to its ink -> the same with strokes at least MIN_STROKE of its
    long side wide: a thin pen on a large canvas would otherwise shrink to a faint hairline in 28x28,
    where MNIST's strokes are 2 to 3 pixels of its 20-pixel box. Strokes already as bold are kept."""
    from scipy import ndimage

    solid = digit > 0.5
    if not solid.any():
        return digit
    # the distance to the background peaks at half the stroke's width along its middle
    width = 2 * float(np.percentile(ndimage.distance_transform_edt(np.pad(solid, 1))[1:-1, 1:-1][solid], 90))
    grow = int(round((MIN_STROKE * max(digit.shape) - width) / 2))
    if grow < 1:
        return digit
    disk = np.hypot(*np.mgrid[-grow:grow + 1, -grow:grow + 1]) <= grow
    return ndimage.grey_dilation(np.pad(digit, grow), footprint=disk)


def mnist_style(gray: np.ndarray, size: tuple[int, int] = (28, 28), *, name: str = "image") -> np.ndarray:
    """(H, W) grayscale in [0, 1] -> (h, w) float32 MNIST-style: white ink on black, the digit alone,
    scaled to fit a 20x20 box (for 28x28) and placed with its centre of mass at the centre."""
    return prepare(gray, size, name=name)[0]


def prepare(gray: np.ndarray, size: tuple[int, int] = (28, 28), *, name: str = "image",
            deadline: float | None = None) -> tuple[np.ndarray, int]:
    """(mnist_style's image, the number of other sizeable marks on the page); `deadline` as to_gray's."""
    ink = ink_map(_work_size(gray))
    _check(deadline, name)
    digit, others = find_digit(ink, name=name)
    _check(deadline, name)
    return fit_box(digit, size), others
