"""The CLI through typer's CliRunner: help texts, a run by hand, one-line errors with exit 1."""

import json

import pytest
import yaml

from scratchnet.cli import STAGES, _summary, checkout
from scratchnet.data.raw import FILES
from scratchnet.params import train as train_params
from scratchnet.params.schema import parse_override
from tests.support import ROOT
from tests.support.cli import invoke


@pytest.fixture
def params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"fetch": {"dataset": "idx"}, "preprocess": {"val_size": 10},
                                    "train": {"epochs": 3, "batch_size": 16},
                                    "negatives": {"printed": 100, "clutter": 50, "printed_digits": 50},
                                    "detector": {"positives": 100, "photographed": 50, "epochs": 2, "image_epochs": 1}}))
    return path


@pytest.fixture
def prepared(tiny_idx, params, tmp_path):
    """tmp_path/prep: the tiny dataset fetched and preprocessed through the CLI."""
    assert invoke("fetch", "--out", tmp_path / "raw", "--source", tiny_idx, "-p", params).exit_code == 0
    assert invoke("preprocess", "--raw", tmp_path / "raw", "--out", tmp_path / "prep", "-p", params).exit_code == 0
    return tmp_path / "prep"


def error_line(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_help_lists_every_stage():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in (*STAGES, "predict", "serve"):
        assert command in result.output
        assert invoke(command, "--help").exit_code == 0


def test_help_shows_what_to_type_not_python_types():
    predict = invoke("predict", "--help").output
    assert "<bool>" not in predict and "--json " in predict
    train = invoke("train", "--help").output
    assert "KEY=VALUE" in train and "<list[str]>" not in train
    assert "its keys: model, layers, epochs" in " ".join(train.split())
    assert "every section" in invoke("check", "--help").output


def test_the_console_knows_exactly_the_dvc_stages():
    assert list(STAGES) == list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])


def test_only_a_checkout_is_taken_for_one(tmp_path, monkeypatch):
    """A folder with some other project's stages/ is not run; a broken stage file breaks no help."""
    (tmp_path / "stages").mkdir()
    (tmp_path / "stages" / "__init__.py").write_text("")
    (tmp_path / "stages" / "train.py").write_text("print('foreign train')\n")
    monkeypatch.chdir(tmp_path)
    assert checkout("train") == ROOT  # not tmp_path: no dvc.yaml and scratchnet/ beside it
    for name in ("dvc.yaml", "scratchnet/__init__.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    (tmp_path / "stages" / "train.py").write_bytes(b"def main(:\n\xff")
    assert checkout("train") == tmp_path
    assert "pipeline stage" in _summary("train")


def test_stages_by_hand(tiny_idx, params, tmp_path):
    d = tmp_path
    assert invoke("fetch", "--out", d / "raw", "--source", tiny_idx, "-p", params).exit_code == 0
    assert invoke("preprocess", "--raw", d / "raw", "--out", d / "prep", "-p", params).exit_code == 0
    r = invoke("train", "--data", d / "prep", "--model-dir", d / "model", "--metrics", d / "train.json",
               "--timing", d / "timing.json", "--live", d / "live", "-p", params, "--set", "lr=0.05")
    assert r.exit_code == 0, r.output
    assert 1 <= json.loads((d / "train.json").read_text())["best_epoch"] <= 3
    curves = d / "live" / "plots" / "metrics"
    assert (curves / "train" / "loss.tsv").read_text().splitlines()[0] == "step\tloss"
    for name in ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr"):  # DVCLive: one file per curve
        assert [line.split("\t")[0] for line in (curves / f"{name}.tsv").read_text().splitlines()[1:]] == ["1", "2", "3"]
    logged = "".join(p.read_text() for p in (d / "live").rglob("*") if p.is_file())
    assert "timestamp" not in logged and "seconds" not in logged  # wall-clock time lives in timing.json only
    assert json.loads((d / "live" / "metrics.json").read_text())["best_epoch"] == json.loads((d / "train.json").read_text())["best_epoch"]
    assert not (d / "live" / "dvc.yaml").exists() and not list(d.glob("dvc.yaml"))  # DVCLive leaves dvc.yaml to us
    assert set(json.loads((d / "timing.json").read_text())) == {"model_md5", "train_seconds", "epoch_seconds"}
    r = invoke("evaluate", "--model-dir", d / "model", "--data", d / "prep", "--live", d / "live",
               "--metrics", d / "eval.json", "--plots", d / "plots", "-p", params)
    assert r.exit_code == 0, r.output
    r = invoke("export", "--model-dir", d / "model", "--data", d / "prep", "--eval", d / "eval.json",
               "--out", d / "export", "--metrics", d / "export.json", "-p", params)
    assert r.exit_code == 0, r.output
    detector = ["detector", "--model", d / "export", "--data", d / "prep", "--negatives", d / "neg.npz",
                "--metrics", d / "detector.json", "-p", params]  # --out: beside the model, where predict looks
    r = invoke(*detector)
    assert r.exit_code == 1 and "neg.npz: not found (run `scratchnet negatives`" in r.output, r.output
    r = invoke("negatives", "--data", d / "prep", "--out", d / "neg.npz", "-p", params, "--set", "count=200")
    assert r.exit_code == 0 and "drew no non-digits: the `uncertain` detector stays off" in r.output, r.output  # idx: not digits
    r = invoke(*detector)
    assert r.exit_code == 0 and "detector off" in r.output, r.output
    r = invoke("negatives", "--data", d / "prep", "--out", d / "neg.npz", "-p", params, "--set", "count=200",
               "--set", "detector=true")  # digits of your own, as IDX files
    assert r.exit_code == 0 and "made 350 non-digits and 50 printed digits" in r.output, r.output
    r = invoke(*detector)
    assert r.exit_code == 0, r.output
    assert (d / "detector" / "uncertainty.npz").is_file()
    assert (d / "export" / "model.onnx").is_file()


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.write_bytes(f.read_bytes()[:-5]), "truncated"),
    (lambda f: f.write_bytes(b"\x00\x00\x0b\x03" + f.read_bytes()[4:]), "wrong magic number"),
    (lambda f: f.unlink(), "missing train-images-idx3-ubyte"),
])
def test_bad_idx_file_one_line_nothing_left(tiny_idx, params, tmp_path, damage, message):
    damage(tiny_idx / FILES[0])
    result = invoke("fetch", "--out", tmp_path / "raw", "--source", tiny_idx, "-p", params)
    assert result.exit_code == 1
    assert message in error_line(result)
    assert not (tmp_path / "raw").exists()


def test_label_count_mismatch_one_line(tiny_idx, params, tmp_path):
    labels = tiny_idx / FILES[1]
    data = bytearray(labels.read_bytes())
    data[4:8] = (59).to_bytes(4, "big")
    labels.write_bytes(bytes(data[:-1]))
    result = invoke("fetch", "--out", tmp_path / "raw", "--source", tiny_idx, "-p", params)
    assert result.exit_code == 1
    assert "60 images but 59 labels" in error_line(result)
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize("override, message", [
    ("lr=-1", "train.lr: got -1.0, expected float > 0.0"),
    ("epochs=0", "train.epochs"),
    ("batch_size=abc", "train.batch_size: got 'abc'"),
    ("model=resnet", "allowed: seed-mlp, mlp, cnn, mlp-long, custom"),
    ("optimizer=rmsprop", "allowed: sgd, momentum, nesterov, adam"),
    ("colour=red", "train.colour: unknown key"),
    ("layers=[{type: dense, units: 3}]", "train.layers"),
    ("batch_size=1", "train.batch_size: batchnorm needs at least 2 images in each of the 1 shards"),
])
def test_bad_params_one_line(params, tmp_path, override, message):
    result = invoke("train", "--data", tmp_path / "nowhere", "-p", params, "--set", override)
    assert result.exit_code == 1
    assert message in error_line(result)


def test_bad_layer_stack_named(prepared, params, tmp_path):
    result = invoke("train", "--data", tmp_path / "prep", "--model-dir", tmp_path / "m", "-p", params,
                    "--set", "model=custom", "--set", "layers=[{type: dense, units: 3}]")
    assert result.exit_code == 1
    assert "train.layers[0] (dense): dense needs a flat input" in error_line(result)
    assert not (tmp_path / "m").exists()


def test_a_stack_that_starts_with_batchnorm_trains_and_evaluates(prepared, params, tmp_path):
    d = tmp_path
    r = invoke("train", "--data", d / "prep", "--model-dir", d / "m", "--metrics", d / "t.json", "--timing", d / "tt.json",
               "--live", d / "h", "-p", params, "--set", "model=custom",
               "--set", "layers=[{type: batchnorm}, {type: flatten}, {type: dense, units: classes}]")
    assert r.exit_code == 0, r.output
    r = invoke("evaluate", "--model-dir", d / "m", "--data", d / "prep", "--live", d / "h",
               "--metrics", d / "e.json", "--plots", d / "plots", "-p", params)
    assert r.exit_code == 0, r.output
    assert (d / "plots" / "first_layer.png").is_file() and (d / "plots" / "worst.png").is_file()


def test_missing_input_hints_at_the_stage(params, tmp_path):
    result = invoke("train", "--data", tmp_path / "nothing", "-p", params)
    assert result.exit_code == 1
    assert "run `scratchnet preprocess`" in error_line(result)
    result = invoke("preprocess", "--raw", tmp_path / "nothing", "--out", tmp_path / "p", "-p", params)
    assert "run `scratchnet fetch`" in error_line(result)


def test_scientific_notation_without_a_dot(params):
    section = train_params.SECTION
    assert section.load(params, {"lr": "1e-3"})["lr"] == 0.001
    assert section.load(params, dict([parse_override("weight_decay=5e-4")]))["weight_decay"] == 0.0005
    result = invoke("train", "-p", params, "--set", "batch_size=1e2")
    assert "train.batch_size: got '1e2'" in error_line(result)  # integers stay strict


def test_missing_params_file(tmp_path):
    result = invoke("fetch", "-p", tmp_path / "none.yaml")
    assert result.exit_code == 1 and "params file not found (run from the checkout's root, or pass --params)" in error_line(result)


def test_a_relative_params_path_that_is_missing_names_the_folder_it_looked_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("fetch")
    assert result.exit_code == 1 and f"params.yaml: params file not found in {tmp_path}" in error_line(result)


def test_diverging_loss_names_epoch_and_batch(prepared, params, tmp_path):
    result = invoke("train", "--data", tmp_path / "prep", "--model-dir", tmp_path / "m", "-p", params,
                    "--set", "optimizer=sgd", "--set", "lr=1e30")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]] and "Traceback" not in result.output
    assert "loss became nan at epoch 1, batch" in lines[-1] and "lower train.lr" in lines[-1]
    assert "RuntimeWarning" not in result.output
    assert not (tmp_path / "m").exists()
