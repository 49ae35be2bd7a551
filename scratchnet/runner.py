"""How one command runs: its params section, one line per error, exit codes, signals.

Every pipeline stage (stages/*.py) and the `predict` and `serve` commands go through run(), so a
problem the user can fix is one line on stderr and exit 1, Ctrl-C and SIGTERM are exit 130 and 143
after every `finally` (temporary files) has run, and under DVC the line also says what became of the
stage's outputs.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from .checkout import in_experiment_copy
from .errors import ScratchnetError
from .params.schema import Section, parse_override

# set for the processes the train stage starts under MPI (training/launch.py): how many there are.
# Their launcher says how the run ended, with what became of the outputs; they say only why.
MPI_WORLD = "SCRATCHNET_MPI_PROCESSES"

ParamsFile = Annotated[Path, typer.Option("--params", "-p", metavar="FILE", help="params.yaml to read this stage's section from.")]


def overrides(section: Section):
    """The --set option of a stage, its help naming the keys of the stage's section."""
    return Annotated[list[str] | None, typer.Option(
        "--set", "-s", metavar="KEY=VALUE",
        help=f"Override one key of the {section.name} section (repeatable); its keys: {', '.join(section.fields)}.")]


class Interrupted(KeyboardInterrupt):
    """SIGTERM turned into an interruption, so every `finally` (temp-file cleanup) runs."""

    signum = signal.SIGTERM


def _on_sigterm(signum, frame):
    raise Interrupted


def dvc_stage() -> str:
    """The stage DVC is running (DVC_STAGE is "stage" or "dvc.yaml:stage"), or "" by hand."""
    return os.environ.get("DVC_STAGE", "").rpartition(":")[2]


def _state_of_outputs() -> str:
    """What is true of this stage's earlier outputs after a failure.

    By hand, every output is written atomically, so the earlier ones are still there (but for the
    train stage's DVCLive folder, written epoch by epoch so that it can be watched). Under `dvc repro`
    or `dvc exp run` (DVC_STAGE is set), DVC removed them before starting the command; every output
    is cached, so `dvc checkout STAGE` restores the ones dvc.lock records, with --force where this
    run had written part of one (DVC will not overwrite files it has not saved without it).
    """
    stage = dvc_stage()
    if not stage:
        return "outputs from earlier runs were left as they were"
    if stage == "check":
        if os.environ.get("DVC_EXP_BASELINE_REV") and not in_experiment_copy():
            # a workspace `dvc exp run -S` wrote its values into this params.yaml before check ran
            return ("no other stage ran; their outputs are as they were; params.yaml may keep values `dvc exp run -S` "
                    "set: `git diff params.yaml` shows them, `git checkout params.yaml` undoes every uncommitted change there")
        return "no other stage ran; their outputs are as they were"
    if not _cached(stage):
        return (f"DVC removed this stage's outputs before running it, and its cache holds no recorded ones to restore; "
                f"`dvc repro {stage}` makes them once the cause is fixed")
    written = [path for path in _recorded_outs(stage) if Path(path).exists()]
    if written:
        return (f"DVC removed this stage's outputs before running it, and this run wrote part of {', '.join(written)}; "
                f"`dvc checkout --force {stage}` restores the last recorded ones")
    return f"DVC removed this stage's outputs before running it; `dvc checkout {stage}` restores the last recorded ones"


def _recorded_outs(stage: str) -> list[str]:
    """The paths dvc.lock records as `stage`'s outputs ([] when it cannot be read)."""
    try:
        return [str(o["path"]) for o in _lock_outs(stage)]
    except (KeyError, TypeError):
        return []


def _lock_outs(stage: str) -> list:
    """dvc.lock's records of `stage`'s outputs ({"path", "md5", ...} each; [] when it cannot be read)."""
    import yaml

    try:
        lock = yaml.safe_load(Path("dvc.lock").read_text(encoding="utf-8")) or {}
        return list(lock["stages"][stage].get("outs", []))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return []


def _cached(stage: str) -> bool:
    """Whether dvc.lock records outputs for `stage` and DVC's local cache holds every one of them,
    so that `dvc checkout STAGE` can restore them. DVC runs a stage's command in the folder of its
    dvc.yaml, which holds dvc.lock and .dvc/. It only picks a hint, so any doubt is False."""
    try:
        return _all_cached(stage)
    except Exception:  # an unreadable dvc.lock or config must not hide the error being reported
        return False


def _all_cached(stage: str) -> bool:
    import configparser

    outs = _lock_outs(stage)
    cache = Path(".dvc/cache")
    config = configparser.ConfigParser(strict=False, interpolation=None)
    config.read([".dvc/config", ".dvc/config.local"])
    if config.has_option("cache", "dir"):
        cache = Path(".dvc") / config.get("cache", "dir").strip()  # relative to .dvc/, as DVC reads it
    def held(md5: str) -> bool:
        return len(md5) > 2 and (cache / "files" / "md5" / md5[:2] / md5[2:]).is_file()

    for out in outs:
        md5 = str(out.get("md5", ""))
        if not held(md5):
            return False
        if md5.endswith(".dir"):  # a folder: its manifest lists every file, each cached on its own
            try:
                files = json.loads((cache / "files" / "md5" / md5[:2] / md5[2:]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return False
            if not all(isinstance(f, dict) and held(str(f.get("md5", ""))) for f in files):
                return False
    return bool(outs)


def _under_dvc() -> str:
    """After an error: by hand nothing needs saying (outputs are atomic); under DVC, what became of them."""
    return f" ({_state_of_outputs()})" if dvc_stage() and not os.environ.get(MPI_WORLD) else ""


def _process() -> str:
    """Under MPI, which of the processes speaks ("MPI process 1 of 2: "), from the launchers' variables."""
    world = os.environ.get(MPI_WORLD)
    rank = os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK")
    return f"MPI process {rank} of {world}: " if world and rank else ""


def run(fn: Callable[[], object]) -> None:
    """Call fn; turn the project's errors and interruptions into one line on stderr and an exit code."""
    # a shell starts background jobs with SIGINT ignored, and Python keeps it so; Ctrl-C and
    # `kill -INT` should stop a stage cleanly wherever it was started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        fn()
    except ScratchnetError as e:
        typer.echo(f"error: {_process()}{e}" + _under_dvc(), err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt as e:
        typer.echo(f"interrupted: {_state_of_outputs()}", err=True)
        raise typer.Exit(128 + getattr(e, "signum", signal.SIGINT)) from None
    except (OSError, MemoryError) as e:
        typer.echo(f"error: {_process()}{type(e).__name__}: {e}" + _under_dvc(), err=True)
        raise typer.Exit(1) from None


def settings(section: Section, params_file: Path, overrides: list[str] | None) -> dict:
    """The stage's section of params_file, validated, with `--set key=value` overrides laid over it."""
    pairs = [parse_override(o) for o in overrides or []]
    # `--set train.lr=0.1` on train means lr, as `dvc exp run -S train.lr=0.1` would
    pairs = [(k.removeprefix(f"{section.name}."), v) for k, v in pairs]
    return section.load(params_file, dict(pairs))


def say(text: str) -> None:
    typer.echo(text, err=True)


def stage_app(help: str) -> typer.Typer:
    """A one-command typer app for a stage module: `python -m stages.NAME` runs it, and so does
    `scratchnet NAME`, which hands its arguments over."""
    return typer.Typer(help=help, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
