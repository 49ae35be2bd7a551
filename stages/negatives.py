"""negatives: draw the non-digits (letters, shapes, scribbles) the `uncertain` detector learns from.

Writes data/negatives.npz: `x` uint8 (N, H, W), 0 = background, at the prepared data's image size
(scratchnet/vision/drawing.py draws them). For a dataset that is not digits (negatives.detector:
auto) it draws none: `x` is empty and `off` says why, and the detector stage leaves the rule off.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from scratchnet import atomic
from scratchnet.digit_datasets import OFF, wanted
from scratchnet.errors import DataError
from scratchnet.params.negatives import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app
from scratchnet.vision.drawing import generate


def negatives(*, data_dir: Path | str, out_path: Path | str, **settings) -> dict:
    """Write `count` non-digits at the prepared data's image size to out_path, or none when the
    detector is not wanted for this dataset; return {"count", "image_shape", "off": why or None}.

    settings: the negatives section of params.yaml (detector, count, seed)."""
    s = SECTION.validate(settings)
    meta_path = Path(data_dir) / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: not found (run `scratchnet preprocess` or `dvc repro preprocess` first)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        shape = tuple(int(v) for v in meta["image_shape"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{meta_path}: cannot read the image size ({e})") from None
    build, why = wanted(s["detector"], meta.get("dataset"))
    if build:
        x, off = generate(s["count"], s["seed"], shape), {}
    else:
        x, off = np.zeros((0, *shape), np.uint8), {OFF: np.array(why)}
    atomic.write_npz(out_path, x=x, **off)
    return {"count": len(x), "image_shape": list(shape), "off": None if build else why}


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits (meta.json gives the image size).")] = Path("data/prepared"),
    out: Annotated[Path, typer.Option(help="The drawn non-digits (.npz, x uint8 (N, H, W)).")] = Path("data/negatives.npz"),
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Draw non-digits (letters, shapes, scribbles) for the detector behind predict's `uncertain` flag."""
    def go():
        r = negatives(data_dir=data, out_path=out, **settings(SECTION, params_file, changes))
        if r["off"]:
            say(f"drew no non-digits: the `uncertain` detector stays off, since {r['off']}")
        else:
            say(f"drew {r['count']} non-digits of {tuple(r['image_shape'])} in {out}")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet negatives")
