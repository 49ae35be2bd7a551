"""preprocess: strict IDX parse, pixels to float32 in [0, 1], one-hot labels, a seeded val split.

Writes data/prepared/{train,val,test}.npz (scratchnet/data/splits.py says what each holds), plus
meta.json with shapes, class counts and input checksums.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from scratchnet import atomic
from scratchnet.data.prepare import as_split, class_count, dataset_name, read_raw, val_count
from scratchnet.params.preprocess import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app


def preprocess(*, raw_dir: Path | str, out_dir: Path | str, **settings) -> dict:
    """Turn the raw IDX files in `raw_dir` into prepared .npz splits in `out_dir`; return meta.

    settings: the preprocess section of params.yaml (val_size, num_classes, seed)."""
    s = SECTION.validate(settings)
    raw_dir = Path(raw_dir)
    raw, sha = read_raw(raw_dir)
    num_classes = class_count(raw, s["num_classes"])
    images, labels = raw["train"]
    dataset = dataset_name(raw_dir)
    n_val = val_count(s["val_size"], len(images), dataset)
    perm = np.random.default_rng(s["seed"]).permutation(len(images))
    parts = {"train": np.sort(perm[n_val:]), "val": np.sort(perm[:n_val])}
    meta = {"dataset": dataset, "num_classes": num_classes, "image_shape": list(images.shape[1:]), "scale": "pixel / 255",
            "splits": {}, "input_sha256": sha}
    with atomic.atomic_dir(out_dir) as tmp:
        for split in ("train", "val", "test"):
            if split == "test":
                arrays = as_split(*raw["test"], num_classes)
            else:
                arrays = as_split(images[parts[split]], labels[parts[split]], num_classes)
            atomic.write_npz(tmp / f"{split}.npz", **arrays)
            meta["splits"][split] = {
                "shape": list(arrays["x"].shape),
                "class_counts": np.bincount(arrays["labels"], minlength=num_classes).tolist(),
            }
            del arrays
        atomic.write_json(tmp / "meta.json", meta)
    return meta


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    raw: Annotated[Path, typer.Option(help="Folder with the raw IDX files (fetch's output).")] = Path("data/raw"),
    out: Annotated[Path, typer.Option(help="Folder for train/val/test .npz and meta.json.")] = Path("data/prepared"),
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Parse the IDX files strictly, scale to [0, 1], one-hot the labels and split off validation."""
    def go():
        meta = preprocess(raw_dir=raw, out_dir=out, **settings(SECTION, params_file, changes))
        say("prepared " + ", ".join(f"{k} {tuple(v['shape'])}" for k, v in meta["splits"].items())
            + f"; {meta['num_classes']} classes")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet preprocess")
