"""The `scratchnet` command: the pipeline's stages by name, plus `predict` and `serve`.

`scratchnet STAGE ARGS` runs the checkout's stages/STAGE.py as `python -m stages.STAGE ARGS`, the
same command dvc.yaml runs, so a stage run by hand and under DVC is the same code: the checkout's,
whether this package was installed with `pip install -e` or not. The checkout is the current folder
when it is one (dvc.yaml, stages/ and scratchnet/ side by side), else the one this package was
installed from in editable mode.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .runner import run
from .serving.limits import Limits

_LIMITS = Limits()  # the service's defaults: one source, limits.py

STAGES = ("check", "fetch", "preprocess", "negatives", "train", "evaluate", "export", "detector")

app = typer.Typer(
    help="scratchnet: handwritten-digit recognition with a NumPy network, one command per DVC stage.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
)


def checkout(stage: str) -> Path | None:
    """The checkout whose stages/STAGE.py runs, or None when there is none."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        marks = (root / "dvc.yaml", root / "scratchnet" / "__init__.py", root / "stages" / "__init__.py",
                 root / "stages" / f"{stage}.py")
        if all(m.is_file() for m in marks):
            return root
    return None


def _summary(stage: str) -> str:
    """The first line of the stage's command docstring, read without importing it."""
    root = checkout(stage)
    unknown = "a pipeline stage: run it from the project's checkout"
    if root is None:
        return unknown
    try:
        tree = ast.parse((root / "stages" / f"{stage}.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return unknown  # the stage itself will say what is wrong with it when it runs
    main = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"), None)
    doc = ast.get_docstring(main) if main is not None else None
    return (doc or unknown).split("\n")[0]


def _stage_command(stage: str):
    def command(ctx: typer.Context) -> None:
        root = checkout(stage)
        if root is None:
            typer.echo(f"error: no stages/{stage}.py here: run `scratchnet {stage}` from the project's checkout "
                       "(the folder holding dvc.yaml)", err=True)
            raise typer.Exit(1)
        # -P: the current folder is not put first on the path; the checkout, on PYTHONPATH, is
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-P", "-m", f"stages.{stage}", *ctx.args], env)

    command.__doc__ = _summary(stage)
    return command


for _stage in STAGES:
    _command = _stage_command(_stage)
    app.command(name=_stage, add_help_option=False, short_help=_command.__doc__,
                context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(_command)


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


def predict(
    paths: Annotated[list[Path], typer.Argument(metavar="IMAGE", help=(
        "PNG, JPEG or other pictures, read the way MNIST was made; or .npz files holding `x`: images (N, H, W) at the "
        "model's input size, uint8 0-255 or float in [0, 1], white ink on black as MNIST (anything else is refused)."))],
    model: Annotated[Path, typer.Option(help="Exported model folder (export's output).")] = Path("artifacts/export"),
    detector: Annotated[Path | None, typer.Option(
        help="The `uncertain` detector (the detector stage's .npz); default: detector/uncertainty.npz beside the model folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of one line per image.")] = False,
    save_inputs: Annotated[Path | None, typer.Option(
        help="Write the 28x28 image the model saw for each file here, as STEM.png.")] = None,
) -> None:
    """Classify real images: one line per image (file, digit, probability, `uncertain` when flagged).

    Every readable image gets its result; each unreadable one gets its own error line on stderr.

    In --json, an unreadable file is an entry with an `error` field. Exit 0 when every file was read, 1 when any was not.
    """
    from .serving.predict import format_json, format_lines
    from .serving.predict import predict as predict_fn

    def go():
        results = predict_fn(paths, model, detector=detector, save_inputs=save_inputs)
        sys.stdout.write(format_json(results) if as_json else format_lines(results))
        failed = [r for r in results if "error" in r]
        for r in failed:
            if not as_json:
                typer.echo(f"error: {r['error']}", err=True)
        if failed:
            raise typer.Exit(1)

    run(go)


def serve(
    model: Annotated[Path, typer.Option(help="Exported model folder (export's output).")] = Path("artifacts/export"),
    detector: Annotated[Path | None, typer.Option(
        help="The `uncertain` detector (the detector stage's .npz); default: detector/uncertainty.npz beside the model folder.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, help="Server processes: more read more images per second for more memory (bench/RESULTS.md).")] = 2,
    max_in_flight: Annotated[int, typer.Option(
        min=1, help="Big pictures one worker reads at once, each within the reading budget (docs/predict-and-serve.md).")] = _LIMITS.big_slots,
    queue_wait: Annotated[float, typer.Option(
        min=0.1, help="Seconds a request may wait for its turn before it is answered 503 with Retry-After.")] = _LIMITS.queue_wait,
    upload_timeout: Annotated[float, typer.Option(
        min=1, help="Seconds a client has to send its whole body (then 408).")] = _LIMITS.upload_timeout,
    read_timeout: Annotated[float, typer.Option(
        min=1, help="Seconds to read one picture, checked between its steps (then 503).")] = _LIMITS.read_timeout,
) -> None:
    """Serve the model over HTTP: a draw-a-digit page at /, POST /predict, /health, /version, /docs. Ctrl-C stops it."""
    from dataclasses import replace

    from .serving.app import serve as serve_fn

    limits = replace(_LIMITS, big_slots=max_in_flight, queue_wait=queue_wait, upload_timeout=upload_timeout,
                     read_timeout=read_timeout)
    run(lambda: serve_fn(export_dir=model, detector=detector, host=host, port=port, workers=workers, limits=limits))


for _command in (predict, serve):  # listed in --help with their docstring's whole first line
    app.command(short_help=_command.__doc__.split("\n")[0])(_command)

if __name__ == "__main__":  # pragma: no cover
    app()
