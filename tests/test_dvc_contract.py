"""The DVC contract, end to end in throwaway git + DVC repos on the bundled digits.

Changing a module marks exactly the stages that run it; a bad param or an interrupted stage loses nothing that one printed command
cannot restore byte for byte; reruns leave git clean; `dvc exp show` fits a terminal; a team remote
and the run-cache spare a second clone the training; queued experiments run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.support.repo import BIN, ROOT, commit, make_repo, set_param, sh

pytestmark = pytest.mark.slow  # every test here drives DVC in a throwaway repo (the static checks: test_stage_deps.py)

DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
STAGES = list(DVC_YAML["stages"])


# --- a digits pipeline run once, copied for each test -----------------------------------------

def outputs(repo: Path) -> list[Path]:
    """Every stage output dvc.lock records."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return sorted({repo / o["path"] for s in lock["stages"].values() for o in s.get("outs", [])})


def snapshot(repo: Path) -> dict[str, str]:
    """sha256 of every file of every stage output, plus dvc.lock itself."""
    files = {}
    for p in [*outputs(repo), repo / "dvc.lock"]:
        for f in ([p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else []):
            files[f.relative_to(repo).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return files


def git_status(repo: Path) -> str:
    return sh(repo, "git", "status", "--porcelain").stdout


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """Default params, then `dvc exp run -S fetch.dataset=digits` and nothing else; committed."""
    repo = make_repo(tmp_path_factory.mktemp("contract"))
    commit(repo, "the pipeline, default params")
    run = sh(repo, "dvc", "exp", "run", "-S", "fetch.dataset=digits")
    assert "fetched digits from scikit-learn's bundled digits" in run.stdout + run.stderr
    metrics = json.loads((repo / "artifacts/metrics/eval.json").read_text())
    assert metrics["test_accuracy"] > 0.9, metrics
    commit(repo, "digits")
    return repo


@pytest.fixture
def repo(baseline, tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(baseline, copy, symlinks=True)
    return copy


def test_readme_setup_leaves_git_clean_and_a_second_run_from_empty_cache_is_byte_identical(repo):
    assert git_status(repo) == ""
    timing = repo / "artifacts/metrics/train_timing.json"
    figures = json.loads(timing.read_text())
    assert figures["train_seconds"] > 0
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["train"]["outs"]
    model_dir = next(o for o in lock if o["path"] == "artifacts/model")
    manifest = json.loads((repo / ".dvc/cache/files/md5" / model_dir["md5"][:2] / model_dir["md5"][2:]).read_text())
    assert figures["model_md5"] == next(f["md5"] for f in manifest if f["relpath"] == "model.npz")  # the model it timed
    assert sh(repo, "git", "check-ignore", "-q", str(timing.relative_to(repo))).returncode == 0
    for command in (["dvc", "metrics", "show"], ["dvc", "metrics", "diff", "HEAD"]):
        shown = sh(repo, *command)
        assert "train_seconds" not in shown.stdout and "failed to load" not in shown.stdout + shown.stderr, shown
    first = snapshot(repo)
    shutil.rmtree(repo / ".dvc/cache")
    for out in outputs(repo):
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    again = sh(repo, "dvc", "repro")
    assert "Running stage 'train'" in again.stdout
    assert snapshot(repo) == first
    assert git_status(repo) == ""
    assert "up to date" in sh(repo, "dvc", "repro").stdout


@pytest.mark.parametrize("module, expected", [
    *[(f"stages/{stage}.py", {stage}) for stage in STAGES],  # a stage's own module: that stage alone
    ("scratchnet/data/splits.py", {"train", "evaluate", "export", "detector"}),  # load_split: read, not written
    ("scratchnet/data/prepare.py", {"preprocess"}),
    ("scratchnet/data/idx.py", {"fetch", "preprocess"}),
    ("scratchnet/nn/conv.py", {"check", "train", "evaluate", "export", "detector"}),
    ("scratchnet/plots.py", {"evaluate"}),
    ("scratchnet/params/export.py", {"check", "export"}),
    ("scratchnet/training/presets.py", {"check", "train"}),
    ("scratchnet/detector.py", {"detector"}),
    ("scratchnet/runner.py", set(STAGES)),
    ("scratchnet/serving/predict.py", set()),
    ("scratchnet/cli.py", set()),  # the help text of predict and serve, and the stage dispatch
])
def test_changing_a_module_marks_exactly_the_stages_that_run_it(repo, module, expected):
    with open(repo / module, "a") as f:
        f.write("\n# changed\n")
    status = json.loads(sh(repo, "dvc", "status", "--json").stdout)
    changed = {stage for stage, entries in status.items() for e in entries if isinstance(e, dict)
               for dep in e.get("changed deps", {}) if module == dep or module.startswith(dep + "/")}
    assert changed == expected


def test_reexporting_the_same_model_does_not_retrain_the_detector(repo):
    with open(repo / "stages/export.py", "a") as f:
        f.write("\n# changed\n")
    out = sh(repo, "dvc", "repro").stdout
    assert "Running stage 'export'" in out and "Running stage 'detector'" not in out, out


def test_the_checkouts_code_runs_not_an_installed_copy(repo, tmp_path):
    """`pip install .` (no -e) puts a copy of scratchnet in site-packages. DVC and `scratchnet STAGE`
    must run the checkout's code all the same: here the stale copy sits on PYTHONPATH, searched
    after the checkout that `python -m stages.NAME` puts first, as site-packages is."""
    site = tmp_path / "site"
    shutil.copytree(repo / "scratchnet", site / "scratchnet")
    sources = repo / "scratchnet/data/sources.py"
    sources.write_text(sources.read_text().replace('DIGITS_SOURCE = "scikit-learn\'s bundled digits"',
                                                   'DIGITS_SOURCE = "the checkout\'s own digits"'))
    env = {"PYTHONPATH": str(site)}
    under_dvc = sh(repo, "dvc", "repro", "-f", "fetch", env=env)
    assert "from the checkout's own digits" in under_dvc.stdout + under_dvc.stderr
    by_hand = sh(repo, "scratchnet", "fetch", "--out", str(tmp_path / "raw"), env=env)
    assert "from the checkout's own digits" in by_hand.stderr, by_hand.stderr


@pytest.mark.parametrize("how", ["repro", "exp run", "misspelled section"])
def test_a_bad_param_stops_the_pipeline_before_any_output_is_removed(repo, how):
    before = snapshot(repo)
    if how == "misspelled section":  # our message, not DVC's "Parameters 'train' are missing"
        text = (repo / "params.yaml").read_text()
        (repo / "params.yaml").write_text(text.replace("\ntrain:\n", "\ntrian:\n"))
        r = sh(repo, "dvc", "repro", check=False)
        assert "unknown section 'trian' (did you mean 'train'?)" in r.stdout + r.stderr, r.stdout + r.stderr
        (repo / "params.yaml").write_text(text)  # and then the usual bad value
        set_param(repo, "train.lr", "abc")
        r = sh(repo, "dvc", "repro", check=False)
    elif how == "repro":
        set_param(repo, "train.lr", "abc")
        r = sh(repo, "dvc", "repro", check=False)
    else:
        r = sh(repo, "dvc", "exp", "run", "-S", "train.epochs=-1", check=False)
    assert r.returncode != 0
    err = r.stdout + r.stderr
    assert "error: train." in err and "no other stage ran; their outputs are as they were" in err
    assert "Traceback" not in err
    if how == "exp run":  # DVC wrote -S into params.yaml before the check stage refused it
        assert "`git checkout params.yaml` undoes" in err and "epochs: -1" in sh(repo, "git", "diff", "params.yaml").stdout
    stamp = "data/params.checked"  # the check stage's own output, the only one DVC removed
    assert {k: v for k, v in snapshot(repo).items() if k != stamp} == {k: v for k, v in before.items() if k != stamp}


def test_a_failed_stage_with_nothing_cached_gives_no_restore_hint(tmp_path):
    """In a fresh clone the cache is empty: `dvc checkout STAGE` would fail, so it is not offered."""
    fresh = make_repo(tmp_path, fetch={"dataset": "idx", "source": str(tmp_path / "nowhere")})
    failed = sh(fresh, "dvc", "repro", check=False)
    err = failed.stdout + failed.stderr
    assert failed.returncode != 0 and "source folder not found" in err, err
    assert "its cache holds no recorded ones to restore; `dvc repro fetch` makes them" in err
    assert "dvc checkout" not in err


def test_an_interrupted_stage_names_the_one_command_that_restores_its_outputs(repo):
    before = snapshot(repo)
    set_param(repo, "train.epochs", 100000)
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}
    proc = subprocess.Popen(["dvc", "repro"], cwd=repo, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in proc.stderr:
            if line.startswith("epoch"):
                break
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole process group
        _, err = proc.communicate(timeout=120)
    finally:  # never leave the run behind if the signal was not honoured
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    command = re.search(r"`(dvc checkout --force train)` restores the last recorded ones", err)
    assert command, err  # --force: DVCLive had logged the first epoch into artifacts/live
    assert not (repo / "artifacts/model").exists()  # DVC removed it before running the stage
    sh(repo, *command.group(1).split())
    after = snapshot(repo)
    del before["dvc.lock"], after["dvc.lock"]  # the check stage passed the new params and says so
    assert after == before


def test_by_hand_runs_overwrite_dvc_outputs_and_dvc_checkout_goes_back(repo):
    before = snapshot(repo)
    sh(repo, "scratchnet", "train", "--set", "epochs=1")
    assert "modified" in sh(repo, "dvc", "status").stdout
    sh(repo, "dvc", "checkout", "--force")  # --force: the hand-run outputs are discarded
    assert snapshot(repo) == before


def exp_show_command() -> list[str]:
    """The recommended `dvc exp show` line, as the README gives it."""
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"^(dvc exp show --only-changed .*?)\s*(#.*)?$", readme, re.M)
    assert line, "README lacks the recommended dvc exp show command"
    import shlex
    return shlex.split(line.group(1))


def test_exp_show_fits_120_columns_with_the_headline_metrics_and_changed_params(repo):
    sh(repo, "dvc", "exp", "run", "-S", "train.lr=0.02", "-S", "train.epochs=5")
    shown = sh(repo, *exp_show_command(), "--no-pager", env={"COLUMNS": "120"}).stdout
    lines = [line for line in shown.splitlines() if line.strip()]
    assert max(len(line) for line in lines) <= 120, shown
    for column in ("test_accuracy", "test_loss", "best_val_accuracy", "train.lr", "train.epochs"):
        assert column in shown, (column, shown)
    assert "…" not in shown and "per_class" not in shown and "train.model" not in shown, shown
    workspace = next(line for line in lines if "workspace" in line).split()
    assert len(workspace) == 1 + 3 + 2 and all(re.fullmatch(r"[\d.e-]+", v) for v in workspace[1:]), workspace
    assert sum("0.02" in line for line in lines) >= 2  # the workspace and the experiment's own row
    experiment = next(line for line in lines if "0.02" in line and "workspace" not in line).split()
    assert "!" not in experiment and "-" not in experiment[-5:], (experiment, shown)  # every figure in every row
    assert "train_timing" not in sh(repo, "git", "status", "--porcelain").stdout  # ignored, never staged


def test_a_team_remote_shares_outputs_and_the_run_cache(repo, tmp_path):
    remote = tmp_path / "remote"
    sh(repo, "dvc", "remote", "add", "-d", "team", str(remote))
    commit(repo, "team remote")
    sh(repo, "dvc", "push")  # as docs/pipeline.md says

    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    sh(clone, "dvc", "pull")
    assert snapshot(clone) == snapshot(repo)
    again = sh(clone, "dvc", "repro")
    assert "Running stage" not in again.stdout and "up to date" in again.stdout

    # the first clone runs an experiment and shares its run-cache; the second restores, not trains
    set_param(repo, "train.lr", 0.02)
    sh(repo, "dvc", "repro")
    sh(repo, "dvc", "push", "--run-cache")
    model = (repo / "artifacts/model/model.npz").read_bytes()
    set_param(clone, "train.lr", 0.02)
    sh(clone, "dvc", "pull", "--run-cache")  # the run records; --pull brings the outputs they name
    restored = sh(clone, "dvc", "repro", "--pull")
    assert "Stage 'train' is cached - skipping run" in restored.stdout, restored.stdout
    assert "Running stage 'train'" not in restored.stdout
    assert (clone / "artifacts/model/model.npz").read_bytes() == model


def test_queued_experiments_run_and_show_up_with_their_metrics(repo):
    for lr in ("0.02", "0.1"):
        sh(repo, "dvc", "exp", "run", "--queue", "-S", f"train.lr={lr}", "-S", "train.epochs=4")
    sh(repo, "dvc", "queue", "start", "-j", "1")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = sh(repo, "dvc", "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    else:
        sh(repo, "dvc", "queue", "kill", "--all", check=False)
        pytest.fail(f"queue did not finish: {status}")
    sh(repo, "dvc", "queue", "stop", check=False)
    assert "Failed" not in status, sh(repo, "dvc", "queue", "logs", status.split()[0], check=False).stdout
    shown = sh(repo, "dvc", "exp", "show", "--csv").stdout.splitlines()
    header = shown[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in shown[1:]]
    lrs = {r["train.lr"]: r for r in rows if r["train.lr"] in ("0.02", "0.1")}
    assert set(lrs) == {"0.02", "0.1"}, shown
    for r in lrs.values():
        assert 0 < float(r["test_accuracy"]) <= 1 and 0 < float(r["best_val_accuracy"]) <= 1


def test_a_temporary_experiment_reads_mnist_through_a_relative_path(repo, mnist):
    """The README's offline recipe, SCRATCHNET_MNIST_DIR as a path relative to the checkout, holds in
    an experiment that DVC runs in a copy under .dvc/tmp/exps (--temp, as the queue does)."""
    relative = os.path.relpath(mnist, repo)
    assert not os.path.isabs(relative)
    run = sh(repo, "dvc", "exp", "run", "--temp", "-S", "fetch.dataset=mnist", "-S", "negatives.count=200",
             "-S", "train.epochs=1", env={"SCRATCHNET_MNIST_DIR": relative}, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    shown = sh(repo, "dvc", "exp", "show", "--csv").stdout.splitlines()
    header = shown[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in shown[1:]]
    [mnist_row] = [r for r in rows if r.get("fetch.dataset") == "mnist"]
    assert float(mnist_row["test_accuracy"]) > 0.9, mnist_row
