"""How a stage reports a failure under DVC: the restore hint only when the cache can restore, never a
traceback from working that out, and the exp-run hint only where it is true."""

from __future__ import annotations

import json

import yaml

from scratchnet import runner


def _lock(tmp_path, md5s):
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"stages": {"train": {"outs": [{"path": p, "md5": m} for p, m in md5s]}}}))


def _cache(tmp_path, md5, text="x"):
    path = tmp_path / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_restore_hint_needs_every_output_and_every_file_of_a_folder_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_STAGE", "train")
    _lock(tmp_path, [("artifacts/model", "ab" + "0" * 30 + ".dir"), ("m.json", "cd" + "0" * 30)])
    assert "holds no recorded ones" in runner._state_of_outputs()
    _cache(tmp_path, "cd" + "0" * 30)
    _cache(tmp_path, "ab" + "0" * 30 + ".dir", json.dumps([{"md5": "ef" + "0" * 30, "relpath": "model.npz"}]))
    assert "holds no recorded ones" in runner._state_of_outputs()  # the folder's file is missing
    _cache(tmp_path, "ef" + "0" * 30)
    assert "`dvc checkout train` restores" in runner._state_of_outputs()
    (tmp_path / "m.json").write_text("{")  # this run wrote part of an output: DVC will not replace it without --force
    assert "wrote part of m.json; `dvc checkout --force train` restores" in runner._state_of_outputs()
    (tmp_path / "m.json").unlink()
    (tmp_path / ".dvc/config").write_text("no section header\n")  # unreadable: no hint, and no traceback
    assert "holds no recorded ones" in runner._state_of_outputs()


def test_the_params_hint_is_given_in_the_workspace_only(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_STAGE", "check")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc")
    monkeypatch.chdir(tmp_path)
    assert "git checkout params.yaml" in runner._state_of_outputs()
    copy = tmp_path / ".dvc/tmp/exps/standalone/tmp1"  # --temp and queued runs: the workspace is untouched
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    assert "git checkout params.yaml" not in runner._state_of_outputs()
