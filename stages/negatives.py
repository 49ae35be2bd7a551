"""negatives: make the pictures the `uncertain` detector learns from: non-digits, and printed digits.

Writes data/negatives.npz at the prepared data's image size, uint8, 0 = background:
- `x` (N, H, W): the non-digits, in order: letters, shapes and scribbles drawn with a pen
  (scratchnet/vision/drawing.py; negatives.count of them); letters, symbols and strings of digits
  printed in matplotlib's fonts and photographed (vision/printed.py; negatives.printed); photographed
  clutter (vision/clutter.py; negatives.clutter);
- `digits` (M, H, W): digits printed in the same fonts and photographed (negatives.printed_digits),
  which the detector learns as digits, so that print itself is not what it flags.
The printed and photographed ones are read back as `predict` reads a picture. For a dataset that is
not digits (negatives.detector: auto) it makes none: both are empty and `off` says why, and the
detector stage leaves the rule off.
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
from scratchnet.vision import drawing, printed
from scratchnet.vision.chunks import generate
from scratchnet.vision.clutter import clutter


def negatives(*, data_dir: Path | str, out_path: Path | str, **settings) -> dict:
    """Write the non-digits and printed digits at the prepared data's image size to out_path, or none
    when the detector is not wanted for this dataset; return {"count" (non-digits), "digits",
    "image_shape", "off": why or None}.

    settings: the negatives section of params.yaml (detector, count, printed, clutter, printed_digits, seed)."""
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
    if build:  # each kind from its own child of the seed: changing one count leaves the others as they were
        drawn, typeset, messy, numbers = np.random.SeedSequence(s["seed"]).spawn(4)
        x = np.concatenate([generate(drawing.sample, s["count"], drawn, shape),
                            generate(printed.non_digits, s["printed"], typeset, shape),
                            generate(clutter, s["clutter"], messy, shape)])
        digits, off = generate(printed.digits, s["printed_digits"], numbers, shape), {}
    else:
        x, digits, off = np.zeros((0, *shape), np.uint8), np.zeros((0, *shape), np.uint8), {OFF: np.array(why)}
    atomic.write_npz(out_path, x=x, digits=digits, **off)
    return {"count": len(x), "digits": len(digits), "image_shape": list(shape), "off": None if build else why}


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits (meta.json gives the image size).")
    ] = Path("data/prepared"),
    out: Annotated[Path, typer.Option(help="The pictures made (.npz: x, the non-digits, and digits, both uint8 (N, H, W)).")
    ] = Path("data/negatives.npz"),
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Draw and print non-digits, and print digits, for the detector behind predict's `uncertain` flag."""
    def go():
        r = negatives(data_dir=data, out_path=out, **settings(SECTION, params_file, changes))
        if r["off"]:
            say(f"drew no non-digits: the `uncertain` detector stays off, since {r['off']}")
        else:
            say(f"made {r['count']} non-digits and {r['digits']} printed digits of {tuple(r['image_shape'])} in {out}")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet negatives")
