"""Run the whole pipeline through the plain stage functions, for tests that need a trained model."""

from __future__ import annotations

from pathlib import Path

from stages import params as P
from stages.evaluate import evaluate
from stages.export import export
from stages.fetch import fetch
from stages.preprocess import preprocess
from stages.train import train


def run_pipeline(root: Path, *, dataset: str = "digits", source: str = "mirrors", val_size=100, **train_params) -> Path:
    """fetch → preprocess → train → evaluate → export under `root`; returns the export folder."""
    fetch(root / "raw", dataset=dataset, source=source)
    preprocess(root / "raw", root / "prepared", val_size=val_size)
    prm = P.validate("train", {}, train_params)
    a = root / "artifacts"
    train(prm, root / "prepared", a / "model", a / "train.json", a / "timing.json", a / "history.tsv", log=lambda *_: None)
    evaluate(a / "model", root / "prepared", a / "history.tsv", a / "eval.json", a / "plots")
    export(a / "model", root / "prepared", a / "eval.json", a / "export", a / "export.json")
    return a / "export"
