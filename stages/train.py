"""train: fit a preset or custom model on the prepared splits, keep the best weights by val accuracy.

Writes artifacts/model/ (model.npz + model.json), each epoch's curves through DVCLive to
artifacts/live/ as the epoch ends (DVC plots, live in the DVC extension) and a train metrics JSON,
all byte-identical for the same params and seed. Wall-clock time is no result of the
params: it goes to a timing JSON that DVC neither tracks nor compares, naming the model it timed.

With train.processes > 1 the command starts that many copies of itself under MPI
(scratchnet/training/launch.py); they split each batch, and the first of them writes the outputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from scratchnet import atomic, modelfile
from scratchnet.data.splits import load_split
from scratchnet.params.train import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app
from scratchnet.training import launch
from scratchnet.training.live import epoch_log
from scratchnet.training.loop import fit
from scratchnet.training.resolve import build_model, resolve_recipe


def train(*, data_dir: Path | str, model_dir: Path | str, metrics_path: Path | str, timing_path: Path | str,
          live_dir: Path | str, log=print, group=None, **settings) -> dict:
    """Run the train stage; return the train metrics.

    settings: the train section of params.yaml (model, layers, the recipe keys, processes, hosts,
    early_stopping, seed). Called in one process, it trains the model that train.processes would
    (with shards raised to processes): the processes split the work, not the math. Under MPI every
    process calls it with its `group` (launch.world); the first writes the outputs, the rest nothing."""
    recipe = resolve_recipe(SECTION.validate(settings))
    writer = group is None or group.rank == 0
    log = log if writer else _quiet
    data_dir = Path(data_dir)
    train_split, val_split = load_split(data_dir / "train.npz"), load_split(data_dir / "val.npz")
    n_classes = train_split["y"].shape[1]
    input_shape = (1, *train_split["x"].shape[1:])
    init_rng, fit_rng = np.random.default_rng(recipe.seed).spawn(2)
    model = build_model(recipe, input_shape, n_classes, init_rng)
    log(f"model {recipe.model}: {model.num_parameters():,} parameters, input {input_shape}, {n_classes} classes")
    # each epoch's curves, as it ends (DVCLive), from the writing process
    with epoch_log(live_dir) if writer else contextlib.nullcontext((None, None)) as (live, on_epoch):
        start = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging loss is caught and named in fit
            history, best, epoch_seconds = fit(model, recipe, train_split, val_split, fit_rng, log=log,
                                               on_epoch=on_epoch, group=group)
        seconds = time.perf_counter() - start
        best_row = history[best - 1]
        no_val = not len(val_split["x"])  # JSON has no NaN: report null instead
        metrics = {
            "best_val_accuracy": None if no_val else best_row["val_accuracy"],
            "best_val_loss": None if no_val else best_row["val_loss"],
            "best_epoch": best,
        }
        if not writer:
            return metrics
        live.summary.update(metrics)  # DVCLive's metrics.json closes with the stage's summary
    modelfile.save(model, model_dir, classes=list(range(n_classes)),
                   preprocessing={"scale": "pixel / 255", "layout": "N, 1, H, W", "background": "black, ink white"},
                   extra={"recipe": recipe.manifest()})
    atomic.write_json(metrics_path, metrics)
    atomic.write_json(timing_path, {  # the md5 DVC gives model.npz: which model these figures timed
        "model_md5": hashlib.md5((Path(model_dir) / modelfile.ARRAYS).read_bytes()).hexdigest(),
        "train_seconds": round(seconds, 3),
        "epoch_seconds": round(sum(epoch_seconds) / len(epoch_seconds), 3),
    })
    return metrics


def _quiet(text: str) -> None:
    """The log of every process but the first under MPI: one copy of each line is enough."""


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits.")] = Path("data/prepared"),
    model_dir: Annotated[Path, typer.Option(help="Folder for model.npz and model.json.")] = Path("artifacts/model"),
    metrics: Annotated[Path, typer.Option(help="Train metrics JSON.")] = Path("artifacts/metrics/train.json"),
    timing: Annotated[Path, typer.Option(
        help="Wall-clock timing JSON: seconds and the model they timed (git-ignored; no DVC output or metric).")
    ] = Path("artifacts/metrics/train_timing.json"),
    live: Annotated[Path, typer.Option(help="DVCLive folder: each epoch's curves, logged as it ends (DVC plots).")] = Path("artifacts/live"),
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Train the model named by train.model (a preset of scratchnet/training/presets.py, or custom) and keep the best epoch."""
    def go():
        section = settings(SECTION, params_file, changes)
        processes, group = section["processes"], None
        if processes > 1 and not launch.inside():  # start the processes, which run this command again
            resolve_recipe(section)  # what can be checked here is, before any process starts
            for split in ("train", "val"):
                load_split(Path(data) / f"{split}.npz")
            launch.launch(processes, section["hosts"], "stages.train", sys.argv[1:],
                          path=Path(__file__).resolve().parent.parent, log=say)
            return
        if processes > 1:
            group = launch.world(processes)
        m = train(data_dir=data, model_dir=model_dir, metrics_path=metrics, timing_path=timing,
                  live_dir=live, log=say, group=group, **section)
        if group is None or group.rank == 0:
            val = "n/a" if m["best_val_accuracy"] is None else f"{m['best_val_accuracy']:.4f}"
            say(f"best epoch {m['best_epoch']}: val accuracy {val}; model in {model_dir}")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet train")
