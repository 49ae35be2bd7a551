"""predict: classify real images (PNG/JPEG of any size, colour or background) with the exported model.

Each picture is read by scratchnet/vision/images.py the way MNIST itself was made; each answer carries
`uncertain`, the rule of scratchnet/detector.py. A file that cannot be read gets its own one-line
error and the others their results.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import modelfile, nn
from ..detector import MAX_OTHER_MARKS, Rule, beside
from ..errors import ZIP_REFUSALS, ImageError, ModelFormatError, ScratchnetError
from ..onnx_export import infer, session
from ..vision.images import MIN_CONTRAST, blank, prepare, to_gray

NPZ_RULES = ("an .npz holds `x` (or one array): images (N, H, W) at the model's input size, uint8 0-255 or "
             "float in [0, 1], white ink on black as MNIST")
MAX_BORDER = 0.5  # mean of an image's outer ring: MNIST's is about 0, a small digit's that reaches the edge
# under a third, a dark-on-light picture's near 1
MAX_BRIGHT = 0.5  # share of pixels above half brightness: MNIST digits cover under a third of theirs


def _load_npz(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The images of an .npz as float32 (N, H, W) in [0, 1] (NPZ_RULES say what it must hold)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            key = "x" if "x" in z.files else (z.files[0] if z.files else None)
            if key is None:
                raise ImageError(f"{path}: holds no arrays")
            x = z[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, *ZIP_REFUSALS) as e:  # truncated, bit-flipped
        raise ImageError(f"{path}: not a readable .npz of images ({e})") from None
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or x.shape[1:] != size:
        raise ImageError(f"{path}: expected images (N, {size[0]}, {size[1]}), got {x.shape}; {NPZ_RULES}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255
    if not np.issubdtype(x.dtype, np.floating):
        raise ImageError(f"{path}: expected uint8 or float images, got {x.dtype}; {NPZ_RULES}")
    if len(x) and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
        raise ImageError(f"{path}: float images must lie in [0, 1], these span [{np.nanmin(x):g}, {np.nanmax(x):g}]; "
                         f"{NPZ_RULES}")
    return x.astype(np.float32)


def mnist_like(image: np.ndarray, name: str) -> None:
    """Refuse an image (H, W) in [0, 1] from an .npz that is not what the model was trained on: blank,
    or dark ink on a light ground (its border bright, or most of it bright). The model would give a
    confident answer to either; a picture file goes through images.py instead, which handles both."""
    if image.max() < MIN_CONTRAST:
        raise blank(name)
    ring = np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])
    if ring.mean() > MAX_BORDER or (image > 0.5).mean() > MAX_BRIGHT:
        raise ImageError(f"{name}: looks like dark ink on a light ground; {NPZ_RULES} (invert it as 1 - x, or save it "
                         "as a PNG, which predict reads either way)", "not_mnist")


NOT_A_DIGIT = "this does not look like a digit"  # the page shows it in place of the digit


@dataclass
class Reader:
    """The exported model, loaded once: what `predict` and `serve` classify with."""

    session: object
    classes: list
    size: tuple[int, int]
    rule: Rule

    @classmethod
    def load(cls, export_dir: Path | str, detector: Path | str | None = None) -> Reader:
        """The model exported to export_dir and its `uncertain` detector (default: beside it, where
        the detector stage writes it)."""
        export_dir = Path(export_dir)
        if not (export_dir / modelfile.MANIFEST).is_file():
            where = "" if export_dir.is_absolute() else f" (looked in {export_dir.resolve()})"
            raise ModelFormatError(f"{export_dir}: no exported model here{where}: run `dvc repro` or `scratchnet export`"
                                   " first, or name the folder with --model")
        manifest = modelfile.read_manifest(export_dir)
        onnx_path, cal_path = export_dir / "model.onnx", Path(detector) if detector is not None else beside(export_dir)
        for path, stage in ((onnx_path, "export"), (cal_path, "detector")):
            if not path.is_file():
                raise ModelFormatError(f"{path}: not found (run `scratchnet {stage}` or `dvc repro {stage}` first)")
        try:
            sess = session(onnx_path)
        except Exception as e:  # onnxruntime raises its own exception types for a bad file
            raise ModelFormatError(f"{onnx_path}: onnxruntime cannot load it ({str(e).splitlines()[0]})") from None
        _, h, w = manifest["input_shape"]
        try:
            with np.load(cal_path, allow_pickle=False) as z:
                rule = Rule({k: z[k] for k in z.files})
            n_features = sess.get_outputs()[1].shape[1]
            if rule.off is None:  # a detector that was built runs, on the model's images and features
                if np.ndim(rule.threshold) != 0 or rule.n_features != n_features or rule.image_shape != (h, w):
                    raise ValueError(f"it reads {rule.image_shape} images and {rule.n_features} features, the model "
                                     f"gives {(h, w)} and {n_features}")
                rule.score(np.zeros((1, h, w), np.float32), np.zeros((1, n_features), np.float32))
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, nn.SpecError, *ZIP_REFUSALS) as e:
            raise ModelFormatError(f"{cal_path}: not a readable calibration ({e})") from None
        return cls(sess, manifest["classes"], (h, w), rule)

    def classify(self, images: np.ndarray, other_marks: list[int] | None = None) -> list[dict]:
        """Results for images (N, H, W) in [0, 1], MNIST-style: the digit and its probabilities, and
        whether to doubt it (`uncertain`), with the detector's score and the threshold it was held to
        (None when the rule is off) and, when flagged, why."""
        x = images[:, None].astype(np.float32)
        probs, features = infer(self.session, x)
        scores, doubtful = self.rule.verdict(images.astype(np.float32), features)
        threshold = None if self.rule.off is not None else float(self.rule.threshold)
        marks = other_marks or [0] * len(x)
        results = []
        for p, score, not_digit, m in zip(probs, scores, doubtful, marks):
            why = (NOT_A_DIGIT if not_digit else
                   f"{m} other marks on the page: text or a form, not one digit" if m > MAX_OTHER_MARKS else None)
            results.append({"digit": self.classes[int(p.argmax())], "probability": float(p.max()),
                            "probabilities": [round(float(v), 6) for v in p], "uncertain": why is not None,
                            "score": None if threshold is None else float(score), "threshold": threshold,
                            "why": why})
        return results

    def read(self, source: Path | bytes, name: str, deadline: float | None = None) -> tuple[np.ndarray, int]:
        """(the MNIST-style image the model sees (H, W), other marks on the page) for one picture;
        past `deadline` (time.monotonic()), an ImageError of kind "timeout"."""
        return prepare(to_gray(source, name=name, deadline=deadline), self.size, name=name, deadline=deadline)


def input_png(image: np.ndarray) -> bytes:
    """The (H, W) image the model saw, as PNG bytes (white ink on black)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def predict(paths: list[Path | str], export_dir: Path | str, *, detector: Path | str | None = None,
            save_inputs: Path | str | None = None) -> list[dict]:
    """One result per image (every image of an .npz counts), in order: {"file", "digit",
    "probability", "probabilities", "uncertain", "score", "threshold", "why"} (Reader.classify), or
    {"file", "error"} for one that cannot be read.
    With save_inputs, the 28x28 image the model saw is written there as STEM.png (image i of an
    .npz: STEM-i.png)."""
    reader = Reader.load(export_dir, detector)
    slots, images, marks = [], [], []  # slots: (name, stem, index into images) or (name, None, error)
    for path in map(Path, paths):
        try:
            if path.suffix == ".npz":
                x = _load_npz(path, reader.size)
                for i, image in enumerate(x):
                    try:
                        mnist_like(image, f"{path}[{i}]")
                    except ImageError as e:
                        slots.append((f"{path}[{i}]", None, str(e)))
                        continue
                    slots.append((f"{path}[{i}]", f"{path.stem}-{i}", len(images)))
                    images.append(image)
                    marks.append(0)
                continue
            image, others = reader.read(path, str(path))
        except ScratchnetError as e:
            slots.append((str(path), None, str(e)))
            continue
        slots.append((str(path), path.stem, len(images)))
        images.append(image)
        marks.append(others)
    answers = reader.classify(np.stack(images), marks) if images else []
    if save_inputs is not None:
        _save_inputs(Path(save_inputs), [(stem, images[i]) for _, stem, i in slots if stem is not None])
    return [{"file": name, **answers[slot]} if stem is not None else {"file": name, "error": slot}
            for name, stem, slot in slots]


def _save_inputs(folder: Path, named: list[tuple[str, np.ndarray]]) -> None:
    """Write each (stem, image) as folder/STEM.png; a repeated stem gets "_" appended."""
    from .. import atomic

    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for stem, image in named:
        while stem in used:
            stem += "_"
        used.add(stem)
        atomic.write_bytes(folder / f"{stem}.png", input_png(image))


def format_lines(results: list[dict]) -> str:
    """One line per readable image: file, digit, probability, and `uncertain` and why when flagged."""
    return "".join(f"{r['file']}\t{r['digit']}\t{r['probability']:.4f}" + (f"\tuncertain: {r['why']}" if r["uncertain"] else "")
                   + "\n" for r in results if "error" not in r)


def format_json(results: list[dict]) -> str:
    return json.dumps(results, indent=2) + "\n"
