"""check: validate every section of params.yaml before any stage runs.

`dvc repro` removes a stage's outputs before running its command, so a bad value found by the stage
itself would cost the outputs of the last good run. This stage heads the pipeline: it reads every
section, resolves train's preset and builds its layer stack (with the prepared data's image shape
when there is one), and only then writes its stamp, which every other stage depends on. A mistake
stops `dvc repro` here, with every other output as it was. The stamp's content never changes, so
rerunning this stage never makes another stage rerun.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from scratchnet import atomic
from scratchnet.errors import ParamsError
from scratchnet.params.sections import load_all
from scratchnet.runner import run, say, stage_app
from scratchnet.training.resolve import build_model, resolve_recipe

STAMP = "params.yaml passed `scratchnet check`\n"


def check(*, params_file: Path | str, stamp: Path | str, prepared: Path | str) -> dict:
    """Validate params_file; write `stamp` on success. Returns the validated sections."""
    sections = load_all(params_file)
    recipe = resolve_recipe(sections["train"])
    meta_path = Path(prepared) / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        input_shape, n_classes = (1, *meta["image_shape"]), int(meta["num_classes"])
    except (OSError, ValueError, KeyError, TypeError):
        input_shape, n_classes = None, None  # no data yet: the layer shapes are checked by train
    if input_shape is not None:
        build_model(recipe, input_shape, n_classes, np.random.default_rng(0))
    elif recipe.model == "custom" and not all(isinstance(spec, dict) for spec in recipe.layers):
        raise ParamsError("train.layers: every entry must be a mapping such as {type: dense, units: 10}")
    atomic.write_text(stamp, STAMP)
    return sections


app = stage_app(__doc__)


@app.command()
def main(
    stamp: Annotated[Path, typer.Option(
        help="File written when every section is valid (the pipeline's first output).")] = Path("data/params.checked"),
    data: Annotated[Path, typer.Option(help="Prepared data, if any: train's layers are built for its image shape.")] = Path("data/prepared"),
    params_file: Annotated[Path, typer.Option("--params", "-p", metavar="FILE", help="params.yaml to validate, every section.")
                           ] = Path("params.yaml"),
) -> None:
    """Validate every section of params.yaml: the pipeline's first stage, so a mistake stops `dvc repro` before any output is removed."""
    def go():
        sections = check(params_file=params_file, stamp=stamp, prepared=data)
        say(f"{params_file}: {', '.join(sections)} sections valid")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet check")
