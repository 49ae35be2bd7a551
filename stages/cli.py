"""The `scratchnet` command: one thin typer wrapper per stage around a plain, importable function.

Hyperparameters come from the stage's section of params.yaml (so DVC can track them); options carry
paths, the params file, and `--set key=value` overrides for running a stage by hand.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from . import params as P
from .errors import ScratchnetError

app = typer.Typer(
    help="scratchnet: handwritten-digit recognition with a NumPy network, one command per DVC stage.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

ParamsFile = Annotated[Path, typer.Option("--params", "-p", help="params.yaml to read this stage's section from.")]
Overrides = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="Override one key of this stage's params section, as key=value (repeatable).")]


class Interrupted(KeyboardInterrupt):
    """SIGTERM turned into an interruption, so every `finally` (temp-file cleanup) runs."""

    signum = signal.SIGTERM


def _on_sigterm(signum, frame):
    raise Interrupted


def _state_of_outputs() -> str:
    """What is true of this stage's earlier outputs after a failure.

    By hand, every output is written atomically, so the earlier ones are still there. Under
    `dvc repro` or `dvc exp run` (DVC_STAGE is set), DVC removed them before starting the command;
    every output is cached, so `dvc checkout STAGE` restores the ones dvc.lock records.
    """
    stage = _dvc_stage()
    if not stage:
        return "outputs from earlier runs were left as they were"
    if stage == "check":
        return "no other stage ran; their outputs are as they were"
    return f"DVC removed this stage's outputs before running it; `dvc checkout {stage}` restores the last recorded ones"


def _stage_for_experiment(path: Path) -> None:
    """Under `dvc exp run`, put the git-ignored file at path into the experiment's commit.

    DVC stages top-level metrics with a plain `git add` (no --force), so an ignored file never
    reaches the experiment and `dvc exp show` prints `!` for it on every row but the workspace.
    DVC sets DVC_EXP_BASELINE_REV only under `dvc exp run`; the experiment commit is made from the
    index, and DVC resets the index after a workspace run, so `git status` stays clean.
    """
    if not os.environ.get("DVC_EXP_BASELINE_REV"):
        return
    import subprocess

    done = subprocess.run(["git", "add", "--force", "--", str(path)], capture_output=True, text=True)
    if done.returncode:
        _say(f"warning: {path} stays out of this experiment's commit: {done.stderr.strip() or 'git add failed'}")


def _dvc_stage() -> str:
    """The stage DVC is running (DVC_STAGE is "stage" or "dvc.yaml:stage"), or "" by hand."""
    return os.environ.get("DVC_STAGE", "").rpartition(":")[2]


def run(fn: Callable[[], object]) -> None:
    """Call fn; turn the project's errors and interruptions into one line on stderr and an exit code."""
    # a shell starts background jobs with SIGINT ignored, and Python keeps it so; Ctrl-C and
    # `kill -INT` should stop a stage cleanly wherever it was started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        fn()
    except ScratchnetError as e:
        typer.echo(f"error: {e}" + _under_dvc(), err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt as e:
        typer.echo(f"interrupted: {_state_of_outputs()}", err=True)
        raise typer.Exit(128 + getattr(e, "signum", signal.SIGINT)) from None
    except (OSError, MemoryError) as e:
        typer.echo(f"error: {type(e).__name__}: {e}" + _under_dvc(), err=True)
        raise typer.Exit(1) from None


def _under_dvc() -> str:
    """After an error: by hand nothing needs saying (outputs are atomic); under DVC, what became of them."""
    return f" ({_state_of_outputs()})" if _dvc_stage() else ""


def _section(stage: str, params_file: Path, overrides: list[str] | None) -> dict:
    pairs = [P.parse_override(o) for o in overrides or []]
    # `--set train.lr=0.1` on train means lr, as `dvc exp run -S train.lr=0.1` would
    pairs = [(k.removeprefix(f"{stage}."), v) for k, v in pairs]
    return P.load(params_file, stage, dict(pairs))


def _say(text: str) -> None:
    typer.echo(text, err=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scratchnet {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """scratchnet: handwritten-digit recognition with a NumPy network, one command per DVC stage."""


@app.command()
def check(
    stamp: Annotated[Path, typer.Option(
        help="File written when every section is valid (the pipeline's first output).")] = Path("data/params.checked"),
    data: Annotated[Path, typer.Option(help="Prepared data, if any: train's layers are built for its image shape.")] = Path("data/prepared"),
    params_file: ParamsFile = Path("params.yaml"),
) -> None:
    """Validate every section of params.yaml: the pipeline's first stage, so a mistake stops `dvc repro` before any output is removed."""
    from .check import check as check_fn

    def go():
        sections = check_fn(params_file=params_file, stamp=stamp, prepared=data)
        _say(f"{params_file}: {', '.join(sections)} sections valid")

    run(go)


@app.command()
def fetch(
    out: Annotated[Path, typer.Option(help="Folder to write the four IDX files and checksums.json to.")] = Path("data/raw"),
    source: Annotated[str | None, typer.Option(
        help="Override fetch.source: 'mirrors', 'openml', or a local folder or .tar(.gz)/.zip archive holding the four IDX files.")] = None,
    params_file: ParamsFile = Path("params.yaml"),
    overrides: Overrides = None,
) -> None:
    """Download (or copy from a local folder) the dataset and verify it. SCRATCHNET_MNIST_DIR replaces the mirrors."""
    from .fetch import fetch as fetch_fn

    def go():
        prm = _section("fetch", params_file, (overrides or []) + ([f"source={source}"] if source else []))
        record = fetch_fn(out_dir=out, **prm)
        shapes = ", ".join(f"{k} {tuple(v['shape'])}" for k, v in record["files"].items())
        _say(f"fetched {prm['dataset']} from {record['source']}{' (checksums verified)' if record['verified'] else ''}: {shapes}")

    run(go)


@app.command()
def preprocess(
    raw: Annotated[Path, typer.Option(help="Folder with the raw IDX files (fetch's output).")] = Path("data/raw"),
    out: Annotated[Path, typer.Option(help="Folder for train/val/test .npz and meta.json.")] = Path("data/prepared"),
    params_file: ParamsFile = Path("params.yaml"),
    overrides: Overrides = None,
) -> None:
    """Parse the IDX files strictly, scale to [0, 1], one-hot the labels and split off validation."""
    from .preprocess import preprocess as preprocess_fn

    def go():
        prm = _section("preprocess", params_file, overrides)
        meta = preprocess_fn(raw_dir=raw, out_dir=out, **prm)
        _say("prepared " + ", ".join(f"{k} {tuple(v['shape'])}" for k, v in meta["splits"].items())
             + f"; {meta['num_classes']} classes")

    run(go)


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits.")] = Path("data/prepared"),
    model_dir: Annotated[Path, typer.Option(help="Folder for model.npz and model.json.")] = Path("artifacts/model"),
    metrics: Annotated[Path, typer.Option(help="Train metrics JSON.")] = Path("artifacts/metrics/train.json"),
    timing: Annotated[Path, typer.Option(
        help="Wall-clock timing JSON (not a DVC output: git-ignored, shown by `dvc metrics show`).")
    ] = Path("artifacts/metrics/train_timing.json"),
    history: Annotated[Path, typer.Option(help="Per-epoch history TSV (a DVC plot).")] = Path("artifacts/plots/history.tsv"),
    params_file: ParamsFile = Path("params.yaml"),
    overrides: Overrides = None,
) -> None:
    """Train the model named by train.model (a preset of stages/presets.py, or custom) and keep the best epoch."""
    from .train import train as train_fn

    def go():
        prm = _section("train", params_file, overrides)
        m = train_fn(data_dir=data, model_dir=model_dir, metrics_path=metrics, timing_path=timing,
                     history_path=history, log=_say, **prm)
        _stage_for_experiment(timing)
        val = "n/a" if m["best_val_accuracy"] is None else f"{m['best_val_accuracy']:.4f}"
        _say(f"best epoch {m['best_epoch']}: val accuracy {val}; model in {model_dir}")

    run(go)


@app.command()
def evaluate(
    model_dir: Annotated[Path, typer.Option(help="Trained model folder.")] = Path("artifacts/model"),
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits.")] = Path("data/prepared"),
    history: Annotated[Path, typer.Option(help="Training history TSV, for the curves plot.")] = Path("artifacts/plots/history.tsv"),
    metrics: Annotated[Path, typer.Option(help="Test metrics JSON.")] = Path("artifacts/metrics/eval.json"),
    plots: Annotated[Path, typer.Option(help="Folder for confusion.csv and the PNG plots.")] = Path("artifacts/plots"),
    params_file: ParamsFile = Path("params.yaml"),
    overrides: Overrides = None,
) -> None:
    """Score the model on the test split: accuracy, loss, per-class metrics, confusion matrix, plots."""
    from .evaluate import evaluate as evaluate_fn

    def go():
        prm = _section("evaluate", params_file, overrides)
        m = evaluate_fn(model_dir=model_dir, data_dir=data, history_path=history, metrics_path=metrics,
                        plots_dir=plots, **prm)
        _say(f"test accuracy {m['test_accuracy']:.4f}, loss {m['test_loss']:.4f}")

    run(go)


@app.command()
def negatives(
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits (meta.json gives the image size).")] = Path("data/prepared"),
    out: Annotated[Path, typer.Option(help="The drawn non-digits (.npz, x uint8 (N, H, W)).")] = Path("data/negatives.npz"),
    params_file: ParamsFile = Path("params.yaml"),
    overrides: Overrides = None,
) -> None:
    """Draw non-digits (letters, shapes, scribbles) for the detector behind predict's `uncertain` flag."""
    from .negatives import negatives as negatives_fn

    def go():
        prm = _section("negatives", params_file, overrides)
        r = negatives_fn(data_dir=data, out_path=out, **prm)
        _say(f"drew {r['count']} non-digits of {tuple(r['image_shape'])} in {out}")

    run(go)


@app.command()
def export(
    model_dir: Annotated[Path, typer.Option(help="Trained model folder.")] = Path("artifacts/model"),
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits (the test split checks the export).")] = Path("data/prepared"),
    negatives_path: Annotated[Path, typer.Option(
        "--negatives", help="The drawn non-digits the `uncertain` detector learns from.")] = Path("data/negatives.npz"),
    eval_metrics: Annotated[Path, typer.Option("--eval", help="Test metrics JSON, quoted in the model card.")] = Path("artifacts/metrics/eval.json"),
    out: Annotated[Path, typer.Option(help="Folder for model.onnx, model.npz, model.json and model-card.md.")] = Path("artifacts/export"),
    metrics: Annotated[Path, typer.Option(help="Export check JSON.")] = Path("artifacts/metrics/export.json"),
    params_file: ParamsFile = Path("params.yaml"),
    overrides: Overrides = None,
) -> None:
    """Export to ONNX and check it with onnx.checker and onnxruntime against the NumPy model."""
    from .export import export as export_fn

    def go():
        prm = _section("export", params_file, overrides)
        r = export_fn(model_dir=model_dir, data_dir=data, negatives_path=negatives_path, eval_path=eval_metrics,
                      out_dir=out, metrics_path=metrics, **prm)
        _say(f"exported to {out}: onnxruntime agrees on {r['images']} images, max |diff| {r['max_abs_diff']:.2e}")

    run(go)


@app.command()
def predict(
    paths: Annotated[list[Path], typer.Argument(help="PNG or JPEG images, or .npz files of (N, H, W) images.")],
    model: Annotated[Path, typer.Option(help="Exported model folder (export's output).")] = Path("artifacts/export"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of one line per image.")] = False,
    save_inputs: Annotated[Path | None, typer.Option(
        help="Write the 28x28 image the model saw for each file here, as STEM.png.")] = None,
) -> None:
    """Classify real images: one line per image (file, digit, probability, `uncertain` when flagged).

    Every readable image gets its result; each unreadable one its own error line on stderr (in
    --json, an entry with an `error` field). Exit 0 when every file was read, 1 when any was not.
    """
    from .predict import format_json, format_lines
    from .predict import predict as predict_fn

    def go():
        results = predict_fn(paths, model, save_inputs=save_inputs)
        sys.stdout.write(format_json(results) if as_json else format_lines(results))
        failed = [r for r in results if "error" in r]
        for r in failed:
            if not as_json:
                typer.echo(f"error: {r['error']}", err=True)
        if failed:
            raise typer.Exit(1)

    run(go)


@app.command()
def serve(
    model: Annotated[Path, typer.Option(help="Exported model folder (export's output).")] = Path("artifacts/export"),
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes: 2 on 2 cores reads 1.3x the images/s of 1, for 2.5x the memory (bench/RESULTS.md).")] = 2,
) -> None:
    """Serve the model over HTTP: a draw-a-digit page at /, POST /predict, /health, /version, /docs. Ctrl-C stops it."""
    from .serve import serve as serve_fn

    run(lambda: serve_fn(export_dir=model, host=host, port=port, workers=workers))


if __name__ == "__main__":  # pragma: no cover
    app()
