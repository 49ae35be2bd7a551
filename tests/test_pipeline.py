"""`dvc repro` end to end in a temporary git repo: digits offline, another IDX dataset, real MNIST."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.data import make_dataset, write_dataset
from tests.support.repo import FEW_DETECTOR, FEW_NEGATIVES, commit, make_repo, sh

pytestmark = pytest.mark.slow  # DVC repos


def ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def test_digits_pipeline_reruns_only_what_changed(tmp_path):
    repo = make_repo(tmp_path, fetch={"dataset": "digits"}, preprocess={"val_size": 200}, negatives=FEW_NEGATIVES,
                     detector=FEW_DETECTOR, train={"epochs": 4, "augment_shift": 0})  # a 1-pixel shift is a lot for 8x8 images
    first = sh(repo, "dvc", "repro")
    assert ran(first.stdout) == {"check", "fetch", "preprocess", "negatives", "train", "evaluate", "export", "detector"}
    evaluation = json.loads((repo / "artifacts/metrics/eval.json").read_text())
    assert evaluation["test_accuracy"] > 0.85
    per_class = (repo / "artifacts/plots/per_class.csv").read_text().splitlines()
    assert per_class[0] == "class,precision,recall,f1,support" and len(per_class) == 1 + 10
    assert json.loads((repo / "artifacts/metrics/export.json").read_text())["onnx_argmax_agreement"] == 1.0
    for name in ("confusion.csv", "confusion.png", "curves.png", "worst.png", "first_layer.png", "per_class.png"):
        assert (repo / "artifacts/plots" / name).stat().st_size > 0
    assert (repo / "artifacts/live/plots/metrics/val/accuracy.tsv").read_text().count("\n") == 1 + 4  # DVCLive, per epoch
    commit(repo, "baseline")

    # by hand, same params and seed: the same bytes as DVC's run; another seed: different ones
    out = tmp_path / "by-hand"
    for seed in (0, 1):
        sh(repo, "scratchnet", "train", "--model-dir", str(out / f"model{seed}"), "--metrics", str(out / f"train{seed}.json"),
           "--timing", str(out / "timing.json"), "--live", str(out / f"live{seed}"), "--set", f"seed={seed}")
    assert (out / "model0/model.npz").read_bytes() == (repo / "artifacts/model/model.npz").read_bytes()
    assert (out / "train0.json").read_bytes() == (repo / "artifacts/metrics/train.json").read_bytes()
    logged = {p.relative_to(out / "live0"): p.read_bytes() for p in (out / "live0").rglob("*") if p.is_file()}
    assert logged == {p.relative_to(repo / "artifacts/live"): p.read_bytes() for p in (repo / "artifacts/live").rglob("*") if p.is_file()}
    assert (out / "model1/model.npz").read_bytes() != (out / "model0/model.npz").read_bytes()

    again = sh(repo, "dvc", "repro")
    assert ran(again.stdout) == set() and "up to date" in again.stdout

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["lr"] = 0.02
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = sh(repo, "dvc", "repro")
    assert ran(changed.stdout) == {"check", "train", "evaluate", "export", "detector"}  # check: the train section changed
    assert "train.lr" in sh(repo, "dvc", "params", "diff").stdout
    assert "test_accuracy" in sh(repo, "dvc", "metrics", "diff").stdout
    commit(repo, "lr 0.02")

    sh(repo, "dvc", "exp", "run", "-S", "train.epochs=1")
    shown = sh(repo, "dvc", "exp", "show", "--no-pager", "--md").stdout
    assert "train.epochs" in shown or "epochs" in shown
    assert "test_accuracy" in shown


def test_another_idx_dataset_runs_unchanged(tmp_path):
    source = write_dataset(tmp_path / "letters", make_dataset(n_train=150, n_test=40, size=(10, 14), classes=5), gz=True)
    repo = make_repo(tmp_path, fetch={"dataset": "idx", "source": str(source)}, preprocess={"val_size": 30},
                     train={"epochs": 8, "model": "cnn", "batch_size": 16})
    sh(repo, "dvc", "repro")
    evaluation = json.loads((repo / "artifacts/metrics/eval.json").read_text())
    assert [line.split(",")[0] for line in (repo / "artifacts/plots/per_class.csv").read_text().splitlines()[1:]] == ["0", "1", "2", "3", "4"]
    assert evaluation["test_accuracy"] > 0.6
    manifest = json.loads((repo / "artifacts/export/model.json").read_text())
    assert manifest["input_shape"] == [1, 10, 14]
    checks = json.loads((repo / "data/raw/checksums.json").read_text())
    assert checks["verified"] is False and len(checks["files"]) == 4


def test_mnist_pipeline(mnist, tmp_path):
    repo = make_repo(tmp_path, train={"epochs": 2})
    sh(repo, "dvc", "repro", env={"SCRATCHNET_MNIST_DIR": str(mnist)})
    assert json.loads((repo / "data/raw/checksums.json").read_text())["verified"] is True
    assert json.loads((repo / "artifacts/metrics/eval.json").read_text())["test_accuracy"] > 0.95
