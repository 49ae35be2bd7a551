"""The GitHub workflow (.github/workflows/ci.yml) cannot run here; what it runs can: .ci/run (this
CI), and the pull-request report, here on two local commits. actionlint checks the workflow in .ci/run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.support import ROOT
from tests.support.repo import FEW_DETECTOR, FEW_NEGATIVES, commit, make_repo, sh

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_the_workflow_runs_this_repos_own_scripts():
    flow = yaml.safe_load(WORKFLOW.read_text())
    runs = "\n".join(step.get("run", "") for job in flow["jobs"].values() for step in job["steps"])
    for script in set(re.findall(r"\.ci/[\w.]+", runs)):
        assert (ROOT / script).is_file(), script
    assert ".ci/run" in runs and ".ci/report.py" in runs and "CI_TIER: fast" in WORKFLOW.read_text()
    report = flow["jobs"]["report"]
    assert report["if"] == "github.event_name == 'pull_request'" and report["permissions"]["pull-requests"] == "write"
    comment = next(s for s in report["steps"] if "cml comment" in s.get("run", ""))
    assert "head.repo.full_name == github.repository" in comment["if"]  # forks: the job summary only


@pytest.mark.skipif(shutil.which("actionlint") is None and not (ROOT / ".venv/bin/actionlint").is_file(),
                    reason="actionlint is not installed (the dev extra has it)")
def test_actionlint_accepts_the_workflow():
    exe = shutil.which("actionlint") or str(ROOT / ".venv/bin/actionlint")
    result = subprocess.run([exe, str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_the_report_compares_two_local_commits(tmp_path):
    repo = make_repo(tmp_path, fetch={"dataset": "digits"}, preprocess={"val_size": 200}, negatives=FEW_NEGATIVES, detector=FEW_DETECTOR,
                     train={"epochs": 3})
    sh(repo, "dvc", "repro", "--quiet")
    commit(repo, "base")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["lr"] = 0.02
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "dvc", "repro", "--quiet")
    commit(repo, "head: lr 0.02")
    out = sh(repo, sys.executable, str(ROOT / ".ci" / "report.py"), "HEAD~1", "HEAD").stdout
    assert "### Params" in out and "train.lr" in out and "0.02" in out, out
    assert "### Metrics" in out and "test_accuracy" in out, out
    assert "![confusion](artifacts/plots/confusion.png)" in out, out
    assert "failed" not in out.lower(), out
