"""docs/walkthrough.ipynb runs top to bottom on the fast subset, from docs/, on the data it names at
the top of its output, and is stored without outputs."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from stages.fetch import fetch
from stages.preprocess import preprocess
from tests.support import ROOT
from tests.support.data import mnist_dir

NOTEBOOK = ROOT / "docs" / "walkthrough.ipynb"


def checkout_copy(tmp_path: Path) -> Path:
    """The parts of a checkout the notebook reads, without the pipeline's data/ (the live checkout's
    data/ would decide which data the notebook uses)."""
    repo = tmp_path / "checkout"
    for folder in ("stages", "scratchnet"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "docs").mkdir()
    shutil.copy(NOTEBOOK, repo / "docs" / NOTEBOOK.name)
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    return repo


def execute(notebook: Path, env: dict, cells: int | None = None) -> str:
    """Run the notebook (its first `cells` cells) with docs/ as the working folder, as Jupyter does;
    returns everything it printed."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(notebook, as_version=4)
    if cells is not None:
        nb.cells = nb.cells[:cells]
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(notebook.parent)}})
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env, MPLBACKEND="Agg")  # the kernel inherits this process's environment
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                       and any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        first = nb.cells[failed].source.splitlines()[0] if failed is not None else "?"
        pytest.fail(f"walkthrough cell {failed} ({first!r}) failed:\n{str(e)[-1500:]}")
    finally:
        os.environ.clear()
        os.environ.update(old)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_the_walkthrough_is_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} hold outputs: clear them before committing (diffs stay readable)"
    assert "FULL = False" in nb.cells[1].source  # the switch, in the first code cell, set for CI


def test_without_mnist_the_walkthrough_says_so_first(tmp_path):
    repo = checkout_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "SCRATCHNET_MNIST_DIR"}
    out = execute(repo / "docs" / NOTEBOOK.name, {**env, "SCRATCHNET_MNIST_DIR": "no/such/folder"}, cells=4)
    assert out.startswith("NOT MNIST: MNIST is not available here"), out[:500]
    assert "no/such/folder" in out.splitlines()[0]  # the reason names what it looked for
    assert "Data: scikit-learn 8x8 digits (NOT MNIST)" in out and "(8, 8)" in out, out


def test_the_walkthrough_uses_the_pipeline_data_when_it_is_there(tmp_path):
    repo = checkout_copy(tmp_path)
    fetch(out_dir=repo / "data" / "raw", dataset="digits")
    preprocess(raw_dir=repo / "data" / "raw", out_dir=repo / "data" / "prepared", val_size=100)
    record = repo / "data" / "raw" / "checksums.json"  # as if the pipeline had fetched MNIST
    record.write_text(json.dumps({**json.loads(record.read_text()), "dataset": "mnist"}))
    env = {k: v for k, v in os.environ.items() if k != "SCRATCHNET_MNIST_DIR"}
    out = execute(repo / "docs" / NOTEBOOK.name, {**env, "SCRATCHNET_MNIST_DIR": "no/such/folder"}, cells=4)
    assert out.startswith("Data: MNIST, as the pipeline prepared it (data/prepared)"), out[:500]
    assert "train x (1337, 8, 8)" in out, out  # read from data/prepared (val_size 100), not fetched


@pytest.mark.slow
def test_the_walkthrough_runs_top_to_bottom_on_mnist_from_a_relative_path(tmp_path):
    """The README's relative SCRATCHNET_MNIST_DIR, given from the checkout, works from docs/ too."""
    if mnist_dir() is None:
        pytest.skip("no local MNIST mirror")
    repo = checkout_copy(tmp_path)
    relative = os.path.relpath(mnist_dir(), repo)
    left_before = set(Path(tempfile.gettempdir()).glob("walkthrough-*"))
    start = time.perf_counter()
    out = execute(repo / "docs" / NOTEBOOK.name, {**os.environ, "SCRATCHNET_MNIST_DIR": relative})
    print(f"walkthrough executed in {time.perf_counter() - start:.1f} s")
    first = out.splitlines()[0]
    assert first.startswith("Data: MNIST, fetched from "), out[:500]
    assert Path(first.removeprefix("Data: MNIST, fetched from ").split(";")[0]).resolve() == mnist_dir(), first
    assert "NOT MNIST" not in out and "(28, 28)" in out, out[:1000]
    assert set(Path(tempfile.gettempdir()).glob("walkthrough-*")) == left_before  # its data folder removed
    assert "test accuracy" in out and "same as Conv2D.forward: True" in out, out[-2000:]
