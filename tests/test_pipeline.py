"""`dvc repro` end to end in a temporary git repo: digits offline, another IDX dataset, real MNIST."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, make_dataset, write_dataset

BIN = str(Path(sys.executable).parent)


def sh(repo: Path, *cmd: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"], **(env or {})}
    result = subprocess.run(cmd, cwd=repo, env=full_env, capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def make_repo(tmp_path: Path, **sections) -> Path:
    """A git + DVC repo holding this project's pipeline with params sections replaced by `sections`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(ROOT / "stages", repo / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", repo)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, values in sections.items():
        params[key].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "test@example.com")
    sh(repo, "git", "config", "user.name", "test")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    return repo


def commit(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", message)


def ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def test_digits_pipeline_reruns_only_what_changed(tmp_path):
    repo = make_repo(tmp_path, fetch={"dataset": "digits"}, preprocess={"val_size": 200},
                     train={"epochs": 4, "augment_shift": 0})  # a 1-pixel shift is a lot for 8x8 images
    first = sh(repo, "dvc", "repro")
    assert ran(first.stdout) == {"fetch", "preprocess", "train", "evaluate", "export"}
    evaluation = json.loads((repo / "artifacts/metrics/eval.json").read_text())
    assert evaluation["accuracy"] > 0.85 and set(evaluation["per_class"]) == {str(i) for i in range(10)}
    assert json.loads((repo / "artifacts/metrics/export.json").read_text())["argmax_agreement"] == 1.0
    for name in ("confusion.csv", "confusion.png", "curves.png", "worst.png", "history.tsv"):
        assert (repo / "artifacts/plots" / name).stat().st_size > 0
    commit(repo, "baseline")

    # by hand, same params and seed: the same bytes as DVC's run; another seed: different ones
    out = tmp_path / "by-hand"
    for seed in (0, 1):
        sh(repo, "scratchnet", "train", "--model-dir", str(out / f"model{seed}"), "--metrics", str(out / f"train{seed}.json"),
           "--timing", str(out / "timing.json"), "--history", str(out / "history.tsv"), "--set", f"seed={seed}")
    assert (out / "model0/model.npz").read_bytes() == (repo / "artifacts/model/model.npz").read_bytes()
    assert (out / "train0.json").read_bytes() == (repo / "artifacts/metrics/train.json").read_bytes()
    assert (out / "model1/model.npz").read_bytes() != (out / "model0/model.npz").read_bytes()

    again = sh(repo, "dvc", "repro")
    assert ran(again.stdout) == set() and "up to date" in again.stdout

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["lr"] = 0.02
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = sh(repo, "dvc", "repro")
    assert ran(changed.stdout) == {"train", "evaluate", "export"}
    assert "train.lr" in sh(repo, "dvc", "params", "diff").stdout
    assert "accuracy" in sh(repo, "dvc", "metrics", "diff").stdout
    commit(repo, "lr 0.02")

    sh(repo, "dvc", "exp", "run", "-S", "train.epochs=1")
    shown = sh(repo, "dvc", "exp", "show", "--no-pager", "--md").stdout
    assert "train.epochs" in shown or "epochs" in shown
    assert "accuracy" in shown


def test_another_idx_dataset_runs_unchanged(tmp_path):
    source = write_dataset(tmp_path / "letters", make_dataset(n_train=150, n_test=40, size=(10, 14), classes=5), gz=True)
    repo = make_repo(tmp_path, fetch={"dataset": "idx", "source": str(source)}, preprocess={"val_size": 30},
                     train={"epochs": 8, "model": "cnn", "batch_size": 16})
    sh(repo, "dvc", "repro")
    evaluation = json.loads((repo / "artifacts/metrics/eval.json").read_text())
    assert set(evaluation["per_class"]) == {"0", "1", "2", "3", "4"}
    assert evaluation["accuracy"] > 0.6
    manifest = json.loads((repo / "artifacts/export/model.json").read_text())
    assert manifest["input_shape"] == [1, 10, 14]
    checks = json.loads((repo / "data/raw/checksums.json").read_text())
    assert checks["verified"] is False and len(checks["files"]) == 4


@pytest.mark.slow
def test_mnist_pipeline(mnist, tmp_path):
    repo = make_repo(tmp_path, train={"epochs": 2})
    sh(repo, "dvc", "repro", env={"SCRATCHNET_MNIST_DIR": str(mnist)})
    assert json.loads((repo / "data/raw/checksums.json").read_text())["verified"] is True
    assert json.loads((repo / "artifacts/metrics/eval.json").read_text())["accuracy"] > 0.95
