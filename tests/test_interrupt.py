"""Killing a real training run by hand (SIGINT, SIGTERM) leaves earlier outputs intact and no temp files.

Under `dvc repro`, see test_dvc_contract.py."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stages.fetch import fetch
from stages.preprocess import preprocess

BIN = str(Path(sys.executable).parent)
OUTPUTS = ("model", "metrics", "plots")


def snapshot(root: Path) -> dict[str, str]:
    """Every file under the output folders, with its hash: temp files included, if any were left."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for d in OUTPUTS for p in sorted((root / d).rglob("*")) if p.is_file()}


def train_cmd(root: Path, epochs: int) -> list[str]:
    return ["scratchnet", "train", "--data", str(root / "prepared"), "--model-dir", str(root / "model"),
            "--metrics", str(root / "metrics" / "train.json"), "--timing", str(root / "metrics" / "timing.json"),
            "--live", str(root / "live"), "-p", str(root / "params.yaml"),
            "--set", f"epochs={epochs}"]


@pytest.fixture
def trained(tmp_path):
    fetch(out_dir=tmp_path / "raw", dataset="digits")
    preprocess(raw_dir=tmp_path / "raw", out_dir=tmp_path / "prepared", val_size=100)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"train": {"model": "cnn", "batch_size": 16}}))
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    subprocess.run(train_cmd(tmp_path, 1), check=True, env=env, capture_output=True)
    return tmp_path, env


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_killed_training_leaves_previous_outputs(trained, sig):
    root, env = trained
    before = snapshot(root)
    assert "model/model.npz" in before and "metrics/train.json" in before
    proc = subprocess.Popen(train_cmd(root, 1000), env=env, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # wait until it is really training
            if line.startswith("epoch"):
                break
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a 1000-epoch run behind if the signal was not honoured
    assert proc.returncode == 128 + sig
    assert "interrupted" in err and "Traceback" not in err
    assert snapshot(root) == before
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
