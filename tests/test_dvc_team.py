"""Experiments past one machine, as docs/pipeline.md tells a team to run them: a grid queued in one
command and run by two workers; experiments pushed from one clone through a bare git repository
and a DVC remote, pulled into another and restored there without training; the train stage over
MPI processes under DVC, and what a killed process leaves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.repo import BIN, FEW_DETECTOR, FEW_NEGATIVES, commit, make_repo, set_param, sh

pytestmark = pytest.mark.slow  # DVC repos, trained experiments

SMALL = {"fetch": {"dataset": "digits"}, "preprocess": {"val_size": 200}, "negatives": FEW_NEGATIVES,
         "train": {"epochs": 3, "augment_shift": 0}, "detector": FEW_DETECTOR}


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> tuple[Path, Path]:
    """A bare git repository and a DVC remote folder holding the digits pipeline run once."""
    root = tmp_path_factory.mktemp("team")
    work = make_repo(root, **SMALL)
    sh(work, "dvc", "remote", "add", "-d", "team", str(root / "dvc-remote"))
    sh(work, "dvc", "repro")
    commit(work, "the pipeline on digits, a team remote")
    sh(root, "git", "init", "-q", "--bare", str(root / "origin.git"))
    sh(work, "git", "remote", "add", "origin", str(root / "origin.git"))
    sh(work, "git", "push", "-q", "origin", "HEAD:main")
    sh(work, "dvc", "push")
    return root / "origin.git", root / "dvc-remote"


def clone(origin: Path, where: Path) -> Path:
    sh(where.parent, "git", "clone", "-q", "-b", "main", str(origin), str(where))
    sh(where, "git", "config", "user.email", "test@example.com")
    sh(where, "git", "config", "user.name", "test")
    sh(where, "dvc", "pull", "-q")
    return where


def experiments(repo: Path) -> dict[str, dict[str, str]]:
    """`dvc exp show --csv`'s experiment rows by name."""
    shown = sh(repo, "dvc", "exp", "show", "--csv").stdout.splitlines()
    header = shown[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in shown[1:]]
    return {r["Experiment"]: r for r in rows if r.get("Experiment")}


def wait_for_queue(repo: Path, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = sh(repo, "dvc", "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            sh(repo, "dvc", "queue", "stop", check=False)
            assert "Failed" not in status, status
            return
        time.sleep(2)
    sh(repo, "dvc", "queue", "kill", "--all", check=False)
    pytest.fail(f"the queue did not finish: {status}")


def test_a_grid_run_by_two_workers_is_pushed_pulled_and_restored_without_training(origin, tmp_path):
    git_remote, _ = origin
    a = clone(git_remote, tmp_path / "a")
    sh(a, "dvc", "exp", "run", "--queue", "-S", "train.lr=0.02,0.1", "-S", "train.model=seed-mlp,mlp")
    sh(a, "dvc", "queue", "start", "-j", "2")
    wait_for_queue(a)
    ran = experiments(a)
    grid = {(r["train.lr"], r["train.model"]) for r in ran.values()}
    assert grid == {("0.02", "seed-mlp"), ("0.02", "mlp"), ("0.1", "seed-mlp"), ("0.1", "mlp")}, ran
    for row in ran.values():
        assert 0 < float(row["test_accuracy"]) <= 1 and 0 < float(row["best_val_accuracy"]) <= 1, row

    sh(a, "dvc", "exp", "push", "origin")  # every experiment of HEAD: git refs to origin, outputs to the DVC remote

    b = clone(git_remote, tmp_path / "b")
    sh(b, "dvc", "exp", "pull", "origin")
    pulled = experiments(b)
    assert {name: (r["train.lr"], r["train.model"], r["test_accuracy"]) for name, r in pulled.items()} == \
           {name: (r["train.lr"], r["train.model"], r["test_accuracy"]) for name, r in ran.items()}
    name = next(n for n, r in ran.items() if (r["train.lr"], r["train.model"]) == ("0.1", "seed-mlp"))
    for repo in (a, b):
        sh(repo, "dvc", "exp", "apply", name)
        sh(repo, "dvc", "checkout")
    assert (b / "artifacts/model/model.npz").read_bytes() == (a / "artifacts/model/model.npz").read_bytes()
    assert json.loads((b / "artifacts/metrics/eval.json").read_text())["test_accuracy"] == float(ran[name]["test_accuracy"])
    again = sh(b, "dvc", "repro")
    assert "Running stage" not in again.stdout, again.stdout  # restored, not retrained


def test_exp_run_with_two_processes_gives_the_two_shards_model(origin, tmp_path):
    git_remote, _ = origin
    repo = clone(git_remote, tmp_path / "repo")
    models = {}
    for setting in ("train.shards=2", "train.processes=2"):
        run = sh(repo, "dvc", "exp", "run", "-S", setting)
        models[setting] = (repo / "artifacts/model/model.npz").read_bytes()
        if setting.startswith("train.processes"):
            assert "training over 2 MPI processes" in run.stdout + run.stderr
    assert models["train.processes=2"] == models["train.shards=2"]


def test_a_process_killed_mid_epoch_under_dvc_stops_the_run_and_checkout_restores(origin, tmp_path):
    git_remote, _ = origin
    repo = clone(git_remote, tmp_path / "repo")
    recorded = (repo / "artifacts/model/model.npz").read_bytes()
    set_param(repo, "train.processes", 2)
    set_param(repo, "train.epochs", 500)  # killed in the middle of one of them
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    proc = subprocess.Popen(["dvc", "repro", "-s", "train"], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("epoch   2"):
                break
        ranks = [pid for pid in _pids(repo) if _env(pid).get("PMI_RANK") == "1"]
        assert ranks, "".join(lines)
        os.kill(ranks[0], signal.SIGKILL)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = "".join(lines) + rest
    assert proc.returncode != 0
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "MPI process" in errors[0] and "nothing was written" in errors[0], out
    assert "Traceback" not in out, out
    assert not (repo / "artifacts/model/model.npz").exists()  # no half model
    assert _pids(repo) == []
    hint = errors[0].split("`")[1]
    assert hint == "dvc checkout --force train", errors  # DVCLive had written part of artifacts/live
    sh(repo, *hint.split())
    assert (repo / "artifacts/model/model.npz").read_bytes() == recorded
    sh(repo, "git", "checkout", "params.yaml")
    assert "up to date" in sh(repo, "dvc", "status").stdout


def _pids(repo: Path) -> list[int]:
    """Processes running the train stage under MPI in `repo`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"mpi4py" in (proc / "cmdline").read_bytes() and \
                    os.readlink(proc / "cwd") == str(repo):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _env(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
