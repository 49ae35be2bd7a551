"""docs/walkthrough.ipynb runs top to bottom on the fast subset, and is stored without outputs."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.data import mnist_dir

NOTEBOOK = ROOT / "docs" / "walkthrough.ipynb"


def test_the_walkthrough_is_stored_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} hold outputs: clear them before committing (diffs stay readable)"
    assert "FULL = False" in nb.cells[1].source  # the switch, in the first code cell, set for CI


@pytest.mark.slow
def test_the_walkthrough_runs_top_to_bottom():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env = dict(os.environ, MPLBACKEND="Agg")
    if mnist_dir() is not None:
        env["SCRATCHNET_MNIST_DIR"] = str(mnist_dir())
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    left_before = set(Path(tempfile.gettempdir()).glob("walkthrough-*"))
    start = time.perf_counter()
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
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
    seconds = time.perf_counter() - start
    print(f"walkthrough executed in {seconds:.1f} s")
    assert set(Path(tempfile.gettempdir()).glob("walkthrough-*")) == left_before  # its data folder removed
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "test accuracy" in outputs and "same as Conv2D.forward: True" in outputs, outputs[-2000:]
