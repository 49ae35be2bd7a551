"""Which checkout a command belongs to, wherever DVC runs it."""

from __future__ import annotations

from pathlib import Path

EXPERIMENT_COPIES = Path(".dvc", "tmp", "exps")  # where `dvc exp run --temp` and queued runs work


def checkout_root(cwd: Path | None = None) -> Path:
    """The checkout the user ran from: the current folder, or, inside the copy of the checkout that
    a temporary or queued experiment runs in (CHECKOUT/.dvc/tmp/exps/...), CHECKOUT itself. A
    relative path the user gives (SCRATCHNET_MNIST_DIR, fetch.source) means the same folder
    wherever DVC runs the stage."""
    cwd = Path.cwd() if cwd is None else cwd
    parts = cwd.parts
    marker = EXPERIMENT_COPIES.parts
    for i in range(len(parts) - len(marker), -1, -1):
        if parts[i:i + len(marker)] == marker:
            return Path(*parts[:i])
    return cwd


def in_experiment_copy(cwd: Path | None = None) -> bool:
    """Whether the command runs in a temporary or queued experiment's copy of the checkout."""
    cwd = Path.cwd() if cwd is None else cwd
    return checkout_root(cwd) != cwd
