"""predict: classify real images (PNG/JPEG of any size, colour or background) with the exported model.

Each image is prepared the way MNIST itself was made: grayscale, dark-on-light inverted to light ink
on black, cropped to the ink, scaled to fit a 20x20 box (for 28x28 inputs) keeping aspect, and placed
so that its centre of mass sits at the centre of the canvas.
"""

from __future__ import annotations

import json
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import modelfile, nn
from .errors import ImageError, ModelFormatError

MAX_PIXELS = 50_000_000  # decoded size bound: a 7000x7000 photo fits, a decompression bomb does not
INK_THRESHOLD = 0.2  # fraction of full contrast that counts as ink when cropping


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses (rather than warns about) anything twice this

    if not path.is_file():
        raise ImageError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():  # the size check below says it in one line instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: too large to decode safely ({e})") from None
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: cannot open ({e})") from None
    if im.width * im.height > MAX_PIXELS:
        raise ImageError(f"{path}: {im.width}x{im.height} is above the {MAX_PIXELS:,}-pixel bound")
    if getattr(im, "n_frames", 1) > 1:
        raise ImageError(f"{path}: has {im.n_frames} frames (animated or multi-page); give a single image")
    return im


def to_gray(path: Path | str) -> np.ndarray:
    """Decode an image to float32 (H, W) in [0, 1], 0 = black; alpha composited over white."""
    from PIL import Image

    path = Path(path)
    im = _open(path)
    try:
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            a = np.asarray(im, dtype=np.float64)
            top = 65535.0 if im.mode != "I" or a.max() > 255 else 255.0
            return np.clip(a / top, 0, 1).astype(np.float32)
        if im.mode == "F":
            a = np.asarray(im, dtype=np.float32)
            return np.clip(a / max(float(a.max()), 1e-6), 0, 1)
        if im.mode in ("P", "PA", "LA", "RGBA", "La", "RGBa") or "transparency" in im.info:
            im = im.convert("RGBA")
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, im)
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{path}: cannot decode ({e})") from None


def mnist_style(gray: np.ndarray, size: tuple[int, int] = (28, 28), *, name: str = "image") -> np.ndarray:
    """(H, W) grayscale in [0, 1] -> (h, w) float32 MNIST-style: white ink on black, fitted and centred."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    ink = 1 - gray if background > 0.5 else gray.copy()
    background = min(background, 1 - background)
    contrast = float(ink.max()) - background
    if contrast < 0.15:
        raise ImageError(f"{name}: looks blank (no ink stands out from the background); nothing to classify")
    ink = np.clip((ink - background) / contrast, 0, 1)
    rows, cols = np.flatnonzero((ink > INK_THRESHOLD).any(1)), np.flatnonzero((ink > INK_THRESHOLD).any(0))
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

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


def _load_npz(path: Path, size: tuple[int, int]) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            key = "x" if "x" in z.files else (z.files[0] if z.files else None)
            if key is None:
                raise ImageError(f"{path}: holds no arrays")
            x = z[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # truncated, bit-flipped
        raise ImageError(f"{path}: not a readable .npz of images ({e})") from None
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or x.shape[1:] != size:
        raise ImageError(f"{path}: expected images (N, {size[0]}, {size[1]}), got {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255
    if not np.issubdtype(x.dtype, np.floating):
        raise ImageError(f"{path}: expected uint8 or float images, got {x.dtype}")
    return np.clip(x, 0, 1).astype(np.float32)


def load_exported(export_dir: Path | str):
    """(onnxruntime session, class names, (H, W)) from an exported folder."""
    import onnxruntime as ort

    export_dir = Path(export_dir)
    manifest = modelfile.read_manifest(export_dir)
    onnx_path = export_dir / "model.onnx"
    if not onnx_path.is_file():
        raise ModelFormatError(f"{onnx_path}: not found (run `scratchnet export` or `dvc repro export` first)")
    try:
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for a bad file
        raise ModelFormatError(f"{onnx_path}: onnxruntime cannot load it ({str(e).splitlines()[0]})") from None
    _, h, w = manifest["input_shape"]
    return session, manifest["classes"], (h, w)


def predict(paths: list[Path | str], export_dir: Path | str) -> list[dict]:
    """Classify each image file (or every image in an .npz); one result dict per image."""
    session, classes, size = load_exported(export_dir)
    names, batch = [], []
    for path in map(Path, paths):
        if path.suffix == ".npz":
            x = _load_npz(path, size)
            names += [f"{path}[{i}]" for i in range(len(x))]
            batch.extend(x)
        else:
            names.append(str(path))
            batch.append(mnist_style(to_gray(path), size, name=str(path)))
    if not batch:
        return []
    x = np.stack(batch)[:, None].astype(np.float32)
    probs = nn.batched(lambda b: session.run(["probabilities"], {"image": b})[0], x, 1000)
    best = probs.argmax(1)
    return [{"file": n, "digit": classes[b], "probability": float(p[b]),
             "probabilities": [round(float(v), 6) for v in p]} for n, b, p in zip(names, best, probs)]


def format_lines(results: list[dict]) -> str:
    return "".join(f"{r['file']}\t{r['digit']}\t{r['probability']:.4f}\n" for r in results)


def format_json(results: list[dict]) -> str:
    return json.dumps(results, indent=2) + "\n"
