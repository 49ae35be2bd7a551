"""What data a model was built on, in words: read from the meta.json preprocess writes beside the
prepared splits (the model card and the detector's card say it)."""

from __future__ import annotations

import json
from pathlib import Path

NAMES = {"mnist": "MNIST", "digits": "scikit-learn's bundled 8x8 digits", "idx": "a dataset of your own (IDX files)"}


def describe(data_dir: Path | str) -> str:
    """e.g. "MNIST (fetch.dataset: mnist): 55,000 training, 5,000 validation and 10,000 test images
    of 28x28, 10 classes"; what meta.json lacks is left out."""
    try:
        meta = json.loads((Path(data_dir) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"the prepared data in {data_dir} (no readable meta.json)"
    dataset = meta.get("dataset")
    name = f"{NAMES.get(dataset, dataset)} (fetch.dataset: {dataset})" if dataset else "IDX files fetch did not record"
    splits = meta.get("splits", {})
    counts = [f"{splits[s]['shape'][0]:,} {word}" for s, word in (("train", "training"), ("val", "validation"), ("test", "test"))
              if s in splits and splits[s]["shape"][0]]
    sizes = ", ".join(counts[:-1]) + (" and " if len(counts) > 1 else "") + counts[-1] if counts else "its"
    shape = "x".join(map(str, meta.get("image_shape", [])))
    return f"{name}: {sizes} images of {shape}, {meta.get('num_classes', '?')} classes"
