"""Save and load models on disk as arrays in an .npz plus a JSON manifest, never with pickle.

model.json: {"format": "scratchnet-model", "format_version": 1, "architecture": [...],
"input_shape": [C, H, W], "classes": [...], "preprocessing": {...}, "arrays": {name: {shape, dtype}}}.
Loading checks every key, shape and dtype against the manifest before building anything.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .errors import ZIP_REFUSALS, ModelFormatError
from .nn import Sequential, SpecError, build

FORMAT = "scratchnet-model"
FORMAT_VERSION = 1
ARRAYS, MANIFEST = "model.npz", "model.json"


def save(model: Sequential, folder: Path | str, *, classes: list, preprocessing: dict | None = None,
         extra: dict | None = None) -> dict:
    """Write folder/model.npz and folder/model.json (each atomically); return the manifest."""
    folder = Path(folder)
    weights = model.arrays()
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "architecture": model.config(), "input_shape": list(model.input_shape),
        "classes": list(classes), "preprocessing": preprocessing or {},
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in weights.items()},
        **(extra or {}),
    }
    atomic.write_npz(folder / ARRAYS, **weights)
    atomic.write_json(folder / MANIFEST, manifest)
    return manifest


def read_manifest(folder: Path | str) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ModelFormatError(f"{path}: model manifest not found (run `scratchnet train` or `dvc repro train` first)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFormatError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not a {FORMAT} manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ModelFormatError(f"{path}: format version {version!r} is not supported (this scratchnet reads up to {FORMAT_VERSION})")
    for key, kind in (("architecture", list), ("input_shape", list), ("classes", list), ("arrays", dict)):
        if not isinstance(manifest.get(key), kind):
            raise ModelFormatError(f"{path}: manifest key {key!r} missing or not a {kind.__name__}")
    return manifest


def read_arrays(path: Path, expected: dict[str, dict]) -> dict[str, np.ndarray]:
    """Read every array in `path`, refusing pickles, and check names, shapes and dtypes."""
    if not path.is_file():
        raise ModelFormatError(f"{path}: model arrays not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if names != set(expected):
                missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
                raise ModelFormatError(f"{path}: arrays do not match the manifest (missing {missing}, unexpected {extra})")
            arrays = {k: z[k] for k in expected}
    except ModelFormatError:
        raise
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ModelFormatError(f"{path}: holds a pickled object array; refusing to load it") from None
        raise ModelFormatError(f"{path}: unreadable ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, *ZIP_REFUSALS) as e:
        raise ModelFormatError(f"{path}: not a readable .npz ({e})") from None
    for name, a in arrays.items():
        want = expected[name]
        if not isinstance(want, dict) or list(a.shape) != want.get("shape") or str(a.dtype) != want.get("dtype"):
            raise ModelFormatError(f"{path}: array {name} is {a.dtype}{list(a.shape)}, manifest says {want}")
    return arrays


def load(folder: Path | str) -> tuple[Sequential, dict]:
    """Load (model, manifest) from a folder written by save()."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    arrays = read_arrays(folder / ARRAYS, manifest["arrays"])
    odd = sorted(k for k, a in arrays.items() if a.dtype != np.float32)
    if odd:
        raise ModelFormatError(f"{folder / ARRAYS}: arrays {odd} are not float32")
    try:
        if not all(isinstance(d, int) and 0 < d <= 1 << 16 for d in manifest["input_shape"]):
            raise ValueError(f"input_shape {manifest['input_shape']} is not a list of sizes")
        model = build(manifest["architecture"], tuple(manifest["input_shape"]), len(manifest["classes"]),
                      np.random.default_rng(0), weights=arrays)
    except (SpecError, TypeError, ValueError) as e:
        raise ModelFormatError(f"{folder / MANIFEST}: architecture does not fit the arrays ({e})") from None
    unused = set(arrays) - set(model.arrays())
    if unused:
        raise ModelFormatError(f"{folder}: arrays {sorted(unused)} belong to no layer of the architecture")
    return model, manifest
