"""The `scratchnet` command in-process, through typer's CliRunner: a stage name runs that stage's own
app (stages/NAME.py, what `scratchnet NAME` hands over to), anything else the console app."""

from __future__ import annotations

import importlib

from typer.testing import CliRunner, Result

from scratchnet.cli import STAGES, app

runner = CliRunner()


def invoke(*args) -> Result:
    argv = [str(a) for a in args]
    if argv and argv[0] in STAGES:
        return runner.invoke(importlib.import_module(f"stages.{argv[0]}").app, argv[1:])
    return runner.invoke(app, argv)
