"""Every command the README and the docs give in a shell block is run somewhere, as written: by the
walk-through below (a throwaway checkout, MNIST from `../shared/data/mnist` as the README says), by a
named test, or by .ci/run; the few that cannot run offline say why. A new documented command fails
the fast test until it is placed here."""

from __future__ import annotations

import importlib
import io
import json
import re
import time

import numpy as np
import pytest

from tests.support import ROOT
from tests.support.data import mnist_dir
from tests.support.repo import commit, make_repo, sh

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
WALK = "the walk-through below"
EXP_SHOW = ("dvc exp show --only-changed --keep 'test_(accuracy|loss)|best_val_accuracy' --drop 'Created|stages/|scratchnet/|"
            "data/|artifacts/|best_(val_loss|epoch)|test_macro|onnx|uncertain'")
ARTIFACT = ("tests/test_artifacts.py::test_a_registered_version_is_found_and_fetched_by_name (the same commands, with a "
            "local remote and the repository's path in place of GitHub; nothing to push to)")
TEAM = "tests/test_dvc_team.py::{}"
GRID = "test_a_grid_run_by_two_workers_is_pushed_pulled_and_restored_without_training"
PRESETS = "trains a preset for minutes; the same `dvc exp run -S` form runs in the walk-through"

# command, as documented -> where it runs as written
WHERE = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]' && dvc repro":
        ".ci/run (the venv and the install) and the walk-through (`dvc repro`)",
    ". .venv/bin/activate && python -m pytest": ".ci/run",
    "scratchnet fetch --source ../shared/data/mnist": WALK,
    "scratchnet train --set epochs=5 --set lr=0.1": WALK,
    "scratchnet train --help": WALK,
    "dvc exp run -S train.model=cnn": PRESETS,
    "dvc exp run -S train.model=seed-mlp": PRESETS,
    "dvc exp run -S train.model=mlp-long": PRESETS,
    "dvc exp run --queue -S train.lr=0.02 && dvc queue start": WALK,
    EXP_SHOW: WALK,
    "scratchnet predict photo.jpg scan.png": WALK,
    "scratchnet predict --json digits.npz": WALK,
    "scratchnet predict --save-inputs seen/ *.jpg": WALK,
    "scratchnet predict --model path/to/export img.png": WALK,
    "scratchnet serve": "tests/test_serve_browser.py::server (the page and /docs in Chromium)",
    "scratchnet serve --host 0.0.0.0 --port 8080 --model artifacts/export --workers 2": "tests/test_serve.py (workers)",
    "curl -F file=@photo.jpg http://127.0.0.1:8000/predict": "tests/test_serve.py (the same multipart request)",
    "curl --data-binary @photo.png -H 'Content-Type: image/png' http://127.0.0.1:8000/predict": "tests/test_serve.py (raw body)",
    "dvc repro": WALK,
    "dvc repro train": WALK,
    "dvc exp run -S train.lr=0.1": WALK,
    "dvc params diff": WALK,
    "dvc metrics diff": WALK,
    "dvc plots diff HEAD <exp>": WALK + " (<exp>: the queued experiment's name)",
    "dvc remote add -d team /mnt/shared/scratchnet-dvc": "tests/test_dvc_contract.py::test_a_team_remote_shares_outputs_and_the_run_cache",
    'git commit -am "team remote" && dvc push': "tests/test_dvc_contract.py::test_a_team_remote_shares_outputs_and_the_run_cache",
    "dvc pull": "tests/test_dvc_contract.py::test_a_team_remote_shares_outputs_and_the_run_cache",
    "pip install -e '.[mpi]'": ".ci/run (the dev extra holds scratchnet[mpi])",
    "scratchnet train --set processes=2": "tests/test_mpi.py::test_processes_train_the_model_threads_train_with_as_many_shards",
    "dvc exp run -S train.processes=2": TEAM.format("test_exp_run_with_two_processes_gives_the_two_shards_model"),
    "dvc exp run -S train.processes=2 -S 'train.hosts=[node1, node2]'":
        "not here: needs two machines and SSH between them; the localhost form runs in " + TEAM.format(
            "test_exp_run_with_two_processes_gives_the_two_shards_model"),
    "dvc exp run --queue -S 'train.lr=0.02,0.1' -S 'train.model=seed-mlp,mlp'": TEAM.format(GRID),
    "dvc queue start -j 2": TEAM.format(GRID),
    "dvc exp show": TEAM.format(GRID) + " (as --csv, to read it)",
    'dvc remote add -d team /mnt/shared/scratchnet-dvc && git commit -am "team remote" && git push':
        TEAM.format(GRID) + " (its fixture, with a local folder and a bare repository)",
    "dvc exp push origin": TEAM.format(GRID),
    "dvc exp pull origin": TEAM.format(GRID),
    "dvc exp apply <exp> && dvc checkout": TEAM.format(GRID),
    'dvc repro && git commit -am "model" && dvc push': ARTIFACT,
    'git tag -a digit-reader@v1.0.0 -m "Register digit-reader v1.0.0" && git push origin digit-reader@v1.0.0': ARTIFACT,
    'git tag -a "digit-reader#prod#1" -m "Promote digit-reader v1.0.0 to prod" && git push origin "digit-reader#prod#1"': ARTIFACT,
    "dvc artifacts get https://github.com/you/scratchnet digit-reader -o model.onnx": ARTIFACT,
    "pip install -e '.[bench]'": "not offline: PyTorch comes from the package index (bench only)",
    "python bench/run.py": "not in CI: minutes of timing against PyTorch (the bench extra); tests/test_bench.py checks its parts",
    "python bench/run.py --quick": "not in CI: needs PyTorch (the bench extra); tests/test_bench.py checks its parts",
}


def documented() -> list[tuple[str, str]]:
    """(file name, command) for each command line in a ```bash block, comments dropped."""
    found = []
    for path in DOCUMENTS:
        for block in re.findall(r"```(?:bash|sh|console)\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            for line in block.splitlines():
                command = re.split(r"\s{2,}#", line)[0].strip()
                if command and not command.startswith("#"):
                    found.append((path.name, command))
    return found


def test_every_documented_command_has_a_place_where_it_runs():
    commands = documented()
    missing = sorted({c for _, c in commands if c not in WHERE})
    assert not missing, f"documented but run nowhere (add it to WHERE, and run it): {missing}"
    stale = sorted(set(WHERE) - {c for _, c in commands})
    assert not stale, f"no longer documented: {stale}"
    for where in set(WHERE.values()):
        for test in re.findall(r"tests/(\w+)\.py::(\w+)", where):
            assert hasattr(importlib.import_module(f"tests.{test[0]}"), test[1]), where


def photo(label_image: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    page = np.full((200, 160), 235, np.uint8)
    big = np.asarray(Image.fromarray((label_image * 255).astype(np.uint8)).resize((112, 112), Image.Resampling.BICUBIC))
    page[40:152, 24:136] = 235 - (big.astype(np.int32) * 235 // 255)
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.slow
def test_the_walk_through_runs_the_documented_commands_as_written(tmp_path):
    if mnist_dir() is None:
        pytest.skip("no local MNIST mirror")
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "mnist").symlink_to(mnist_dir())
    repo = make_repo(tmp_path)
    commit(repo, "pipeline")
    env = {"SCRATCHNET_MNIST_DIR": "../shared/data/mnist"}  # as the README says, relative to the checkout

    def run(command: str) -> str:
        assert command in WHERE and WHERE[command].startswith(WALK), command
        return sh(repo, "bash", "-c", command, env=env).stdout

    run("scratchnet fetch --source ../shared/data/mnist")
    run("dvc repro")
    commit(repo, "the pipeline's outputs")
    assert "Running stage" not in run("dvc repro train")
    assert "--set" in run("scratchnet train --help")

    from scratchnet.data.splits import load_split
    test = load_split(repo / "data" / "prepared" / "test.npz")
    (repo / "photo.jpg").write_bytes(photo(test["x"][0], "JPEG"))
    (repo / "scan.png").write_bytes(photo(test["x"][1], "PNG"))
    (repo / "img.png").write_bytes(photo(test["x"][2], "PNG"))
    np.savez(repo / "digits.npz", x=test["x"][:3])
    (repo / "path" / "to").mkdir(parents=True)
    for folder in ("export", "detector"):  # a model moved elsewhere keeps its detector beside it
        (repo / "path" / "to" / folder).symlink_to(repo / "artifacts" / folder)
    lines = run("scratchnet predict photo.jpg scan.png").splitlines()
    assert [line.split("\t")[1] for line in lines] == [str(test["labels"][0]), str(test["labels"][1])], lines
    assert [r["digit"] for r in json.loads(run("scratchnet predict --json digits.npz"))] == test["labels"][:3].tolist()
    run("scratchnet predict --save-inputs seen/ *.jpg")
    assert (repo / "seen").is_dir() and any((repo / "seen").iterdir())
    assert run("scratchnet predict --model path/to/export img.png").split("\t")[1] == str(test["labels"][2])

    pipeline = (repo / "dvc.yaml").read_bytes()
    run("dvc exp run -S train.lr=0.1")
    assert (repo / "dvc.yaml").read_bytes() == pipeline  # DVCLive logs; it does not edit dvc.yaml
    assert "train.lr" in run("dvc params diff")
    assert "test_accuracy" in run("dvc metrics diff")
    sh(repo, "git", "checkout", "--", "params.yaml")
    sh(repo, "dvc", "checkout", "--force")
    run("dvc exp run --queue -S train.lr=0.02 && dvc queue start")
    for _ in range(300):
        status = sh(repo, "dvc", "queue", "status").stdout
        if "Running" not in status and "Queued" not in status:
            break
        time.sleep(2)
    assert "Success" in status and "Failed" not in status, status
    shown = run(EXP_SHOW)
    assert "test_accuracy" in shown and "train.lr" in shown and "0.02" in shown and "!" not in shown, shown
    experiments = sh(repo, "dvc", "exp", "ls", "--name-only").stdout.split()
    assert len(experiments) == 2, experiments  # the two DVC ran, none made by DVCLive inside them
    exp = experiments[0]
    sh(repo, "bash", "-c", "dvc plots diff HEAD <exp>".replace("<exp>", exp), env=env)  # as written, <exp> filled in
    assert (repo / "dvc_plots" / "index.html").is_file()
    run("scratchnet train --set epochs=5 --set lr=0.1")
    assert json.loads((repo / "artifacts" / "metrics" / "train.json").read_text())["best_epoch"] <= 5
