"""negatives: draw the non-digits (letters, shapes, scribbles) the `uncertain` detector learns from.

Writes data/negatives.npz: `x` uint8 (N, H, W), 0 = background, at the prepared data's image size
(scratchnet/vision/drawing.py draws them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scratchnet import atomic
from scratchnet.errors import DataError
from scratchnet.params.negatives import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app
from scratchnet.vision.drawing import generate


def negatives(*, data_dir: Path | str, out_path: Path | str, **settings) -> dict:
    """Write `count` non-digits at the prepared data's image size to out_path; return {"count", "image_shape"}.

    settings: the negatives section of params.yaml (count, seed)."""
    s = SECTION.validate(settings)
    meta_path = Path(data_dir) / "meta.json"
    if not meta_path.is_file():
        raise DataError(f"{meta_path}: not found (run `scratchnet preprocess` or `dvc repro preprocess` first)")
    try:
        shape = tuple(int(v) for v in json.loads(meta_path.read_text(encoding="utf-8"))["image_shape"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{meta_path}: cannot read the image size ({e})") from None
    x = generate(s["count"], s["seed"], shape)
    atomic.write_npz(out_path, x=x)
    return {"count": len(x), "image_shape": list(shape)}


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
        say(f"drew {r['count']} non-digits of {tuple(r['image_shape'])} in {out}")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet negatives")
