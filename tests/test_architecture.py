"""The code's boundaries, checked from the source: the network library stands alone, the library
never reaches into the pipeline, and stages/ holds the pipeline's stage modules and nothing else."""

from __future__ import annotations

import ast
import subprocess
import sys

import yaml

from tests.support import ROOT

NN = ROOT / "scratchnet" / "nn"
# what scratchnet/nn may import besides the standard library and itself: NumPy, and threadpoolctl to
# keep BLAS from oversubscribing the cores while shards run on threads
ALLOWED_THIRD_PARTY = {"numpy", "threadpoolctl", "mpi4py"}  # mpi4py: only collective.MPIGroup, the `mpi` extra


def _imports(path):
    """(level, top-level module name) of every import in the file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((0, a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.level, (node.module or "").split(".")[0]


def test_the_network_library_imports_nothing_from_the_application():
    outside = []
    for path in sorted(NN.glob("*.py")):
        for level, name in _imports(path):
            if level > 1 or (level == 0 and name in ("scratchnet", "stages")):
                outside.append(f"{path.name}: {'.' * level}{name}")
            elif level == 0 and name not in sys.stdlib_module_names and name not in ALLOWED_THIRD_PARTY:
                outside.append(f"{path.name}: third-party {name}")
    assert not outside, outside


def test_the_boundary_check_sees_an_application_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from .. import atomic\nfrom scratchnet.errors import ParamsError\nimport torch\n")
    found = list(_imports(bad))
    assert (2, "") in found and (0, "scratchnet") in found and (0, "torch") in found


def test_the_network_library_imports_with_numpy_alone():
    code = "import sys, scratchnet.nn; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.split())
    third_party = loaded - set(sys.stdlib_module_names) - {"scratchnet"} - {m for m in loaded if m.startswith("_")}
    assert third_party <= ALLOWED_THIRD_PARTY, third_party


def test_the_library_never_imports_the_pipeline():
    wrong = [f"{path.relative_to(ROOT)}: {name}" for path in sorted((ROOT / "scratchnet").rglob("*.py"))
             for level, name in _imports(path) if level == 0 and name == "stages"]
    assert not wrong, wrong


def test_stages_holds_one_module_per_dvc_stage_and_nothing_else():
    stages = set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    modules = {p.stem for p in (ROOT / "stages").iterdir() if p.name != "__pycache__"}
    assert modules == stages | {"__init__"}, modules ^ (stages | {"__init__"})


def test_test_modules_import_helpers_from_tests_support_only():
    """No test module imports another test module or conftest: shared code lives in tests/support."""
    tests = ROOT / "tests"
    wrong = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            wrong += [f"{path.relative_to(ROOT)}: {n}" for n in names
                      if n.startswith("tests.") and not n.startswith("tests.support")]
    assert not wrong, wrong
