"""Deps follow the code, read statically: each stage's dvc.yaml deps are exactly the project code
`python -m stages.NAME` runs, that code holds no serving code and no other stage, each stage reads
its own params section, and every output is cached (the DVC runs that hold the same: test_dvc_contract.py)."""

from __future__ import annotations

import pytest
import yaml

from tests.support import ROOT
from tests.support.stage_code import declared_code_deps, stage_files

DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = list(DVC_YAML["stages"])


@pytest.mark.parametrize("stage", STAGES)
def test_stage_deps_are_exactly_the_code_it_runs(stage):
    declared = declared_code_deps(DVC_YAML["stages"][stage]["deps"])
    runs = stage_files(stage)
    assert declared == runs, (f"dvc.yaml stage {stage}: missing {sorted(runs - declared)}, "
                              f"not run {sorted(declared - runs)}")


def test_the_import_walk_follows_imports_across_the_library():
    """Stages that read prepared splits run the split reader; preprocess runs the raw layout's code."""
    for stage in ("train", "evaluate", "export", "detector"):
        assert {"scratchnet/data/splits.py", "scratchnet/params/schema.py", "scratchnet/runner.py",
                "scratchnet/errors.py"} <= stage_files(stage)
    assert "scratchnet/data/raw.py" in stage_files("preprocess")
    assert "scratchnet/plots.py" not in stage_files("train")
    assert declared_code_deps(["scratchnet/nn"]) >= {"scratchnet/nn/conv.py", "scratchnet/nn/gradcheck.py"}


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_runs_no_serving_code_and_no_other_stage(stage):
    files = stage_files(stage)
    assert not {f for f in files if f.startswith("scratchnet/serving/") or f == "scratchnet/cli.py"}, files
    assert {f for f in files if f.startswith("stages/")} == {"stages/__init__.py", f"stages/{stage}.py"}


def test_each_stage_reads_its_own_params_section_and_check_reads_all():
    for stage in STAGES:
        expected = [{"params.yaml": None}] if stage == "check" else [stage]
        assert DVC_YAML["stages"][stage]["params"] == expected


def test_every_output_is_cached_so_dvc_checkout_restores_it():
    for stage, spec in DVC_YAML["stages"].items():
        for out in spec.get("outs", []) + spec.get("metrics", []):
            if isinstance(out, dict):
                (path, opts), = out.items()
                assert opts.get("cache", True) and not opts.get("persist"), f"{stage}: {path}"
