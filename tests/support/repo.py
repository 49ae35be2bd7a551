"""Shared test helpers: the whole pipeline through the plain stage functions, and a throwaway git +
DVC repo holding this project's pipeline for the tests that drive `dvc` itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from stages.detector import detector
from stages.evaluate import evaluate
from stages.export import export
from stages.fetch import fetch
from stages.negatives import negatives
from stages.preprocess import preprocess
from stages.train import train
from tests.support import ROOT

# what a clone needs besides the code (stages/ and scratchnet/) to run the pipeline as the repo does
CODE = ("stages", "scratchnet")
PIPELINE_FILES = ("dvc.yaml", ".dvcignore", ".gitignore", "data/.gitignore", "artifacts/.gitignore",
                  "artifacts/metrics/.gitignore", "artifacts/plots/.gitignore")
DVC_FILES = ("offline-plots.html",)  # files under .dvc/ besides config


# for pipelines whose detector is not what a test checks: every kind of picture, a few of each
FEW_NEGATIVES = {"count": 500, "printed": 300, "clutter": 100, "printed_digits": 200}
FEW_DETECTOR = {"positives": 1000, "photographed": 200, "epochs": 3, "image_epochs": 1}


def run_pipeline(root: Path, *, dataset: str = "digits", source: str = "mirrors", val_size=100, negatives_count=2000,
                 build_detector="auto", detector_params: dict | None = None, **train_params) -> Path:
    """fetch → preprocess → negatives → train → evaluate → export → detector under `root`; returns the
    export folder (the detector's file beside it, in artifacts/detector/, where predict looks by default).
    negatives_count drawn non-digits, and the other kinds in the proportions params.yaml has."""
    fetch(out_dir=root / "raw", dataset=dataset, source=source)
    preprocess(raw_dir=root / "raw", out_dir=root / "prepared", val_size=val_size)
    share = {k: v / DEFAULT_NEGATIVES["count"] for k, v in DEFAULT_NEGATIVES.items() if k in FEW_NEGATIVES}
    negatives(data_dir=root / "prepared", out_path=root / "negatives.npz", detector=build_detector,
              **{k: round(negatives_count * v) for k, v in share.items()})
    a = root / "artifacts"
    train(data_dir=root / "prepared", model_dir=a / "model", metrics_path=a / "train.json", timing_path=a / "timing.json",
          live_dir=a / "live", log=lambda *_: None, **train_params)
    evaluate(model_dir=a / "model", data_dir=root / "prepared", live_dir=a / "live",
             metrics_path=a / "eval.json", plots_dir=a / "plots")
    export(model_dir=a / "model", data_dir=root / "prepared", eval_path=a / "eval.json", out_dir=a / "export",
           metrics_path=a / "export.json")
    detector(export_dir=a / "export", data_dir=root / "prepared", negatives_path=root / "negatives.npz",
             out_path=a / "detector" / "uncertainty.npz", metrics_path=a / "detector.json", **(detector_params or {}))
    return a / "export"


BIN = str(Path(sys.executable).parent)
DEFAULT_NEGATIVES = yaml.safe_load((ROOT / "params.yaml").read_text())["negatives"]


def sh(repo: Path, *cmd: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"], **(env or {})}
    result = subprocess.run(cmd, cwd=repo, env=full_env, capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(cmd)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def set_param(repo: Path, key: str, value) -> None:
    """Set one key ("train.lr") of the repo's params.yaml."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    section, _, name = key.partition(".")
    params[section][name] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_repo(tmp_path: Path, **sections) -> Path:
    """A git + DVC repo holding this project's pipeline with params sections replaced by `sections`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for folder in CODE:
        shutil.copytree(ROOT / folder, repo / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in PIPELINE_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, repo / name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, values in sections.items():
        params[key].update(values)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "test@example.com")
    sh(repo, "git", "config", "user.name", "test")
    sh(repo, "dvc", "init", "-q")
    shutil.copy(ROOT / ".dvc/config", repo / ".dvc/config")
    for extra in DVC_FILES:
        shutil.copy(ROOT / ".dvc" / extra, repo / ".dvc" / extra)
    return repo


def commit(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", message)


