"""preprocess: strict IDX parse, pixels to float32 in [0, 1], one-hot labels, a seeded val split.

Writes data/prepared/{train,val,test}.npz, each holding x (N, H, W) float32, y (N, C) float32
one-hot and labels (N,) int64, plus meta.json with shapes, class counts and input checksums.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import atomic
from . import params as P
from .errors import DataError, ParamsError
from .fetch import CHECKSUMS, SPLITS, check_pair
from .idx import read_idx


def load_split(path: Path | str) -> dict[str, np.ndarray]:
    """Load a prepared split (.npz) safely and check its arrays agree with each other."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found (run `scratchnet preprocess` or `dvc repro preprocess` first)")
    try:
        with np.load(path, allow_pickle=False) as z:
            split = {k: z[k] for k in ("x", "y", "labels")}
    except KeyError as e:
        raise DataError(f"{path}: missing array {e}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # truncated, bit-flipped
        raise DataError(f"{path}: not a readable .npz ({e}); `dvc repro preprocess` makes it again") from None
    x, y, labels = split["x"], split["y"], split["labels"]
    if x.ndim != 3 or x.dtype != np.float32 or y.ndim != 2 or len(y) != len(x) or labels.shape != (len(x),):
        raise DataError(f"{path}: arrays have unexpected shapes x{x.shape} y{y.shape} labels{labels.shape}")
    return split


def model_input(split: dict[str, np.ndarray], input_shape) -> np.ndarray:
    """A split's images as (N, 1, H, W), checked against a model's per-sample input shape."""
    x = split["x"][:, None]
    if x.shape[1:] != tuple(input_shape):
        raise DataError(f"the images are {x.shape[1:]} but the model takes {tuple(input_shape)}: "
                        "was it trained on another dataset?")
    return x


MNIST_VAL_SIZE = 5000  # MNIST's customary 55,000 / 5,000 train / validation split
DEFAULT_VAL_FRACTION = 0.1


def _val_count(val_size: float | None, n_train: int, dataset: str | None) -> int:
    """Validation images to carve from n_train: val_size as a count or fraction, or by default
    MNIST's 5,000, or a tenth of any other dataset's training images."""
    if val_size is None:
        val_size = MNIST_VAL_SIZE if dataset == "mnist" else DEFAULT_VAL_FRACTION
    count = int(round(val_size * n_train)) if isinstance(val_size, float) and val_size < 1 else int(val_size)
    if count >= n_train:
        raise ParamsError(f"preprocess.val_size: {val_size} leaves no training images (train has {n_train})")
    return count


def _dataset_name(raw_dir: Path) -> str | None:
    """The dataset fetch recorded in checksums.json (None if absent or unreadable: a hand-made folder)."""
    try:
        return json.loads((raw_dir / CHECKSUMS).read_text(encoding="utf-8")).get("dataset")
    except (OSError, ValueError, AttributeError):
        return None


def _as_split(images: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, np.ndarray]:
    x = images.astype(np.float32)
    np.divide(x, 255.0, out=x)
    return {"x": x, "y": np.eye(num_classes, dtype=np.float32)[labels], "labels": labels.astype(np.int64)}


def preprocess(*, raw_dir: Path | str, out_dir: Path | str, **settings) -> dict:
    """Turn the raw IDX files in `raw_dir` into prepared .npz splits in `out_dir`; return meta.

    settings: the preprocess section of params.yaml (val_size, num_classes, seed)."""
    s = P.validate("preprocess", settings)
    val_size, num_classes, seed = s["val_size"], s["num_classes"], s["seed"]
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise DataError(f"{raw_dir}: not found (run `scratchnet fetch` or `dvc repro fetch` first)")
    raw, sha = {}, {}
    for split, (img_name, lab_name) in SPLITS.items():
        images, labels = read_idx(raw_dir / img_name), read_idx(raw_dir / lab_name)
        check_pair(images, labels, split)
        raw[split] = (images, labels)
        for name in (img_name, lab_name):
            sha[name] = hashlib.sha256((raw_dir / name).read_bytes()).hexdigest()
    if raw["train"][0].shape[1:] != raw["test"][0].shape[1:]:
        raise DataError(f"train images are {raw['train'][0].shape[1:]} but test images are {raw['test'][0].shape[1:]}")

    seen = int(max(raw["train"][1].max(), raw["test"][1].max())) + 1
    if num_classes is None:
        num_classes = int(raw["train"][1].max()) + 1
    if seen > num_classes:
        bad = "train" if raw["train"][1].max() >= num_classes else "test"
        raise DataError(f"{bad} labels: label {seen - 1} out of range for {num_classes} classes")
    if num_classes < 2:
        raise DataError("train labels: need at least 2 classes")

    images, labels = raw["train"]
    n_val = _val_count(val_size, len(images), _dataset_name(raw_dir))
    perm = np.random.default_rng(seed).permutation(len(images))
    parts = {
        "train": np.sort(perm[n_val:]),
        "val": np.sort(perm[:n_val]),
    }
    meta = {"num_classes": num_classes, "image_shape": list(images.shape[1:]), "scale": "pixel / 255",
            "splits": {}, "input_sha256": sha}
    with atomic.atomic_dir(out_dir) as tmp:
        for split in ("train", "val", "test"):
            if split == "test":
                arrays = _as_split(*raw["test"], num_classes)
            else:
                idx = parts[split]
                arrays = _as_split(images[idx], labels[idx], num_classes)
            atomic.write_npz(tmp / f"{split}.npz", **arrays)
            meta["splits"][split] = {
                "shape": list(arrays["x"].shape),
                "class_counts": np.bincount(arrays["labels"], minlength=num_classes).tolist(),
            }
            del arrays
        atomic.write_json(tmp / "meta.json", meta)
    return meta
