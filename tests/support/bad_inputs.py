"""Every kind of bad input, tried through the real CLI against a sandbox that already holds good outputs.

`tests/test_bad_inputs.py` asserts each case; `python -m tests.support.bad_inputs` prints the table kept in
tests/README.md (the message the user saw, the exit code, and whether the outputs were untouched).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from scratchnet.data.idx import idx_bytes
from scratchnet.data.raw import FILES
from tests.support.cli import invoke
from tests.support.data import make_dataset, write_dataset
from tests.support.repo import FEW_DETECTOR, FEW_NEGATIVES, run_pipeline


def make_sandbox(root: Path) -> Path:
    """Good outputs of every stage under root, from the offline digits dataset."""
    run_pipeline(root, epochs=2, negatives_count=FEW_NEGATIVES["count"], detector_params=FEW_DETECTOR)
    (root / "params.yaml").write_text(yaml.safe_dump({"fetch": {"dataset": "idx"}}))
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "bad" not in p.relative_to(root).parts}


def _idx_folder(root: Path, damage) -> Path:
    folder = write_dataset(root / "bad" / "idx", make_dataset())
    damage(folder)
    return folder


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _fetch(damage):
    def case(root):
        folder = _idx_folder(root, damage)
        return ["fetch", "--out", root / "raw", "--source", folder, "-p", root / "params.yaml"]
    return case


def _bomb(folder: Path) -> None:
    (folder / FILES[1]).unlink()
    with gzip.open(folder / (FILES[1] + ".gz"), "wb", compresslevel=9) as f:
        f.write(b"\x00\x00\x08\x01" + struct.pack(">I", 60))
        for _ in range(64):
            f.write(bytes(1 << 20))


def _labels_out_of_range(folder: Path) -> None:
    arrays = make_dataset()
    arrays[FILES[3]][0] = 9
    write_dataset(folder, arrays)


def _train(*overrides):
    def case(root):
        args = ["train", "--data", root / "prepared", "--model-dir", root / "artifacts/model",
                "--metrics", root / "artifacts/train.json", "--timing", root / "artifacts/timing.json",
                "--live", root / "artifacts/live", "-p", root / "params.yaml"]
        for o in overrides:
            args += ["--set", o]
        return args
    return case


def _model(damage):
    def case(root):
        folder = root / "bad" / "model"
        shutil.copytree(root / "artifacts/model", folder)
        damage(folder)
        return ["evaluate", "--model-dir", folder, "--data", root / "prepared", "--live", root / "artifacts/live",
                "--metrics", root / "artifacts/eval.json", "--plots", root / "artifacts/plots", "-p", root / "params.yaml"]
    return case


def _npz(folder: Path, change) -> None:
    with np.load(folder / "model.npz") as z:
        arrays = dict(z)
    change(arrays)
    np.savez(folder / "model.npz", **arrays)


def _manifest(folder: Path, change) -> None:
    doc = json.loads((folder / "model.json").read_text())
    change(doc)
    (folder / "model.json").write_text(json.dumps(doc))


def _split(damage, stage="train"):
    """A damaged prepared split (a copy of data/prepared), given to train or evaluate."""
    def case(root):
        folder = root / "bad" / "prepared"
        shutil.copytree(root / "prepared", folder)
        name = "train.npz" if stage == "train" else "test.npz"
        damage(folder / name)
        if stage == "train":
            return ["train", "--data", folder, "--model-dir", root / "artifacts/model", "--metrics", root / "artifacts/train.json",
                    "--timing", root / "artifacts/timing.json", "--live", root / "artifacts/live", "-p", root / "params.yaml"]
        return ["evaluate", "--model-dir", root / "artifacts/model", "--data", folder, "--live", root / "artifacts/live",
                "--metrics", root / "artifacts/eval.json", "--plots", root / "artifacts/plots", "-p", root / "params.yaml"]
    return case


def _flip_bit(path: Path) -> None:
    """Flip one bit inside the array data (past the zip and .npy headers): the zip CRC catches it."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def _params_file(text: str):
    def case(root):
        path = root / "bad" / "params.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return ["train", "--data", root / "prepared", "--model-dir", root / "artifacts/model", "--metrics", root / "artifacts/train.json",
                "--timing", root / "artifacts/timing.json", "--live", root / "artifacts/live", "-p", path]
    return case


def _predict_npz(damage):
    def case(root):
        path = root / "bad" / "digits.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        from sklearn.datasets import load_digits

        np.savez(path, x=(load_digits().images[:3] * 255 / 16).astype(np.uint8))
        damage(path)
        return ["predict", path, "--model", root / "artifacts/export"]
    return case


def _image(make):
    def case(root):
        path = root / "bad" / "image.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
        return ["predict", path, "--model", root / "artifacts/export"]
    return case


def _detector_negatives(make):
    def case(root):
        path = root / "bad" / "negatives.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
        return ["detector", "--model", root / "artifacts/export", "--data", root / "prepared", "--negatives", path,
                "--out", root / "artifacts/detector/uncertainty.npz", "--metrics", root / "artifacts/detector.json",
                "-p", root / "params.yaml"]
    return case


def _animated(path: Path) -> None:
    frames = [Image.new("L", (20, 20), c) for c in (0, 255)]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:])


CASES = {
    "IDX: truncated file": _fetch(lambda f: _write(f / FILES[0], (f / FILES[0]).read_bytes()[:-7])),
    "IDX: wrong magic number": _fetch(lambda f: _write(f / FILES[0], b"\x00\x00\x0d\x03" + (f / FILES[0]).read_bytes()[4:])),
    "IDX: dimensions larger than the file": _fetch(
        lambda f: _write(f / FILES[0], b"\x00\x00\x08\x03" + struct.pack(">3I", 60, 600, 600) + b"\x00" * 99)),
    "IDX: zero images": _fetch(lambda f: _write(f / FILES[2], b"\x00\x00\x08\x03" + struct.pack(">3I", 0, 6, 5))),
    "IDX: labels out of range": lambda root: _preprocess_after_fetch(root, _labels_out_of_range),
    "IDX: image/label count mismatch": _fetch(lambda f: _write(f / FILES[1], idx_bytes(np.zeros(59, np.uint8)))),
    "IDX: corrupt gzip stream": _fetch(lambda f: (
        _write(f / (FILES[0] + ".gz"), gzip.compress((f / FILES[0]).read_bytes())[:40] + b"\xff" * 64), (f / FILES[0]).unlink())),
    "IDX: not gzip but named .gz": _fetch(lambda f: (f / FILES[0]).rename(f / (FILES[0] + ".gz"))),
    "IDX: decompression bomb (10 KB .gz, 64 MB inflated)": _fetch(_bomb),
    "IDX: file missing": _fetch(lambda f: (f / FILES[2]).unlink()),
    "params: unknown key": _train("colour=red"),
    "params: wrong type": _train("batch_size=big"),
    "params: negative learning rate": _train("lr=-0.1"),
    "params: zero batch size": _train("batch_size=0"),
    "params: zero epochs": _train("epochs=0"),
    "params: rotation over 45 degrees": _train("augment_rotate=90"),
    "params: negative scale jitter": _train("augment_scale=-0.1"),
    "params: unknown preset": _train("model=resnet50"),
    "params: unknown optimizer": _train("optimizer=rmsprop"),
    "params: unknown layer": _train("model=custom", "layers=[{type: lstm}]"),
    "params: layer shapes do not fit": _train("model=custom", "layers=[{type: dense, units: 10}]"),
    "params: batchnorm momentum of 1": _train("model=custom", "layers=[{type: flatten}, {type: batchnorm, momentum: 1}, "
                                              "{type: dense, units: classes}]"),
    "params: batchnorm with one image per shard": _train("batch_size=3", "shards=2"),
    "params: batchnorm eps of 0": _train("model=custom", "layers=[{type: conv2d, filters: 2}, {type: batchnorm, eps: 0}, "
                                         "{type: flatten}, {type: dense, units: classes}]"),
    "params: misspelled section (trian:)": _params_file("trian:\n  lr: 0.1\n"),
    "params: YAML syntax error": _params_file("train:\n  lr: 0.1\n   epochs: [3\n"),
    "params: another stage's key in --set": _train("evaluate.batch_size=10"),
    "prepared split: truncated .npz": _split(lambda f: _write(f, f.read_bytes()[:5000])),
    "prepared split: one bit flipped": _split(_flip_bit),
    "prepared split: test .npz truncated": _split(lambda f: _write(f, f.read_bytes()[:3000]), stage="evaluate"),
    "predict: truncated .npz": _predict_npz(lambda f: _write(f, f.read_bytes()[:100])),
    "predict: .npz with one bit flipped": _predict_npz(_flip_bit),
    "params: fewer than 100 negatives": lambda root: ["negatives", "--data", root / "prepared", "--out", root / "negatives.npz",
                                                      "-p", root / "params.yaml", "--set", "count=5"],
    "missing input: negatives before preprocess": lambda root: ["negatives", "--data", root / "bad" / "nothing",
                                                                "--out", root / "negatives.npz", "-p", root / "params.yaml"],
    "detector: negatives of another image size": _detector_negatives(
        lambda p: np.savez(p, x=np.zeros((5, 28, 28), np.uint8), digits=np.zeros((5, 28, 28), np.uint8))),
    "detector: truncated negatives .npz": _detector_negatives(lambda p: _write(p, (p.parent.parent / "negatives.npz").read_bytes()[:2000])),
    "params: val_size larger than the training set": lambda root: ["preprocess", "--raw", root / "raw", "--out", root / "prepared",
                                                                   "-p", root / "params.yaml", "--set", "val_size=100000"],
    "model: missing array": _model(lambda f: _npz(f, lambda a: a.pop("1.b"))),
    "model: shape disagrees with manifest": _model(lambda f: _npz(f, lambda a: a.update({"1.W": np.zeros((64, 5), np.float32)}))),
    "model: newer format version": _model(lambda f: _manifest(f, lambda d: d.update(format_version=2))),
    "model: .npz holding a pickled object": _model(lambda f: _npz(f, lambda a: a.update({"1.W": np.array([{"x": 1}], dtype=object)}))),
    "model: truncated .npz": _model(lambda f: _write(f / "model.npz", (f / "model.npz").read_bytes()[:1000])),
    "image: not an image": _image(lambda p: p.write_text("just text")),
    "image: empty file": _image(lambda p: p.write_bytes(b"")),
    "image: animated GIF": _image(_animated),
    "image: huge (9000x9000)": _image(lambda p: Image.new("1", (9000, 9000)).save(p, format="PNG")),
    "image: blank page": _image(lambda p: Image.new("RGB", (64, 64), (250, 250, 250)).save(p, format="PNG")),
    "model: trained on images of another size": lambda root: _other_size_model(root),
    "missing input: train before preprocess": lambda root: ["train", "--data", root / "bad" / "nothing", "-p", root / "params.yaml"],
    "missing input: evaluate before train": lambda root: ["evaluate", "--model-dir", root / "bad" / "nothing", "-p", root / "params.yaml"],
    "missing input: preprocess before fetch": lambda root: ["preprocess", "--raw", root / "bad" / "nothing",
                                                            "--out", root / "prepared", "-p", root / "params.yaml"],
}


def _preprocess_after_fetch(root: Path, damage) -> list:
    """Labels out of range are a preprocess error: fetch the bad set aside, then preprocess over the good output."""
    folder = _idx_folder(root, damage)
    staged = root / "bad" / "raw"
    from stages.fetch import fetch

    fetch(out_dir=staged, dataset="idx", source=str(folder))
    return ["preprocess", "--raw", staged, "--out", root / "prepared", "-p", root / "params.yaml", "--set", "num_classes=3"]


def _other_size_model(root: Path) -> list:
    """A model for 28x28 inputs evaluated on the sandbox's 8x8 digits."""
    from scratchnet import modelfile
    from scratchnet.nn import build

    folder = root / "bad" / "model28"
    model = build([{"type": "flatten"}, {"type": "dense", "units": "classes"}], (1, 28, 28), 10, np.random.default_rng(0))
    modelfile.save(model, folder, classes=list(range(10)))
    return ["evaluate", "--model-dir", folder, "--data", root / "prepared", "--live", root / "artifacts/live",
            "--metrics", root / "artifacts/eval.json", "--plots", root / "artifacts/plots", "-p", root / "params.yaml"]


def run_case(name: str, sandbox: Path) -> dict:
    """Run one case in a fresh copy of the sandbox; return what the user saw and what changed."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "s"
        shutil.copytree(sandbox, root)
        before = snapshot(root)
        argv = [str(a) for a in CASES[name](root)]
        result = invoke(*argv)
        lines = [line.replace(str(root), "SANDBOX") for line in result.output.splitlines() if line.strip()]
        return {"case": name, "exit": result.exit_code, "lines": lines,
                "untouched": snapshot(root) == before, "output": result.output,
                "command": "scratchnet " + argv[0]}


def table(sandbox: Path) -> str:
    rows = ["| bad input | command | message the user saw | exit | outputs untouched |", "| --- | --- | --- | ---: | --- |"]
    for name in CASES:
        r = run_case(name, sandbox)
        message = " / ".join(r["lines"]).replace("|", "\\|")
        rows.append(f"| {name} | `{r['command']}` | {message} | {r['exit']} | {'yes' if r['untouched'] else 'NO'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(table(make_sandbox(Path(tmp) / "sandbox")))
