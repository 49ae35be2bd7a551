"""The exported model as a DVC artifact: declared in dvc.yaml, found through a GTO version tag, and
fetched by name from another folder through the repository's remote (docs/pipeline.md)."""

from __future__ import annotations

import pytest
import yaml

from tests.support import ROOT
from tests.support.repo import FEW_DETECTOR, FEW_NEGATIVES, commit, make_repo, sh

NAME = "digit-reader"


def test_the_onnx_model_is_declared_as_an_artifact():
    artifacts = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"]
    model = artifacts[NAME]
    assert model["type"] == "model" and model["desc"] and model["labels"]
    outs = [o for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values() for o in stage.get("outs", [])]
    assert any(model["path"].startswith(str(o) + "/") for o in outs), "the artifact must be a pipeline output"


@pytest.mark.slow
def test_a_registered_version_is_found_and_fetched_by_name(tmp_path):
    import dvc.api

    repo = make_repo(tmp_path, fetch={"dataset": "digits"}, preprocess={"val_size": 200}, negatives=FEW_NEGATIVES, detector=FEW_DETECTOR,
                     train={"epochs": 2})
    sh(repo, "dvc", "remote", "add", "-d", "local", str(tmp_path / "remote"))
    sh(repo, "dvc", "repro", "--quiet")
    commit(repo, "model")
    sh(repo, "dvc", "push", "--quiet")
    sh(repo, "git", "tag", "-a", f"{NAME}@v1.0.0", "-m", f"Register {NAME} v1.0.0")
    sh(repo, "git", "tag", "-a", f"{NAME}#prod#1", "-m", f"Promote {NAME} v1.0.0 to prod")

    shown = dvc.api.artifacts_show(NAME, repo=str(repo))
    assert shown["path"] == "artifacts/export/model.onnx", shown
    assert shown["rev"] == sh(repo, "git", "rev-parse", "HEAD").stdout.strip()
    assert dvc.api.artifacts_show(NAME, stage="prod", repo=str(repo))["rev"] == shown["rev"]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for option in ([], ["--rev", "v1.0.0"], ["--stage", "prod"]):
        target = elsewhere / f"model{'-'.join(option)}.onnx"
        sh(elsewhere, "dvc", "artifacts", "get", str(repo), NAME, "-o", str(target), *option)
        assert target.read_bytes() == (repo / "artifacts" / "export" / "model.onnx").read_bytes(), option
