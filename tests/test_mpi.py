"""train.processes: the train stage over MPI processes (MPICH from the `mpi` extra, on localhost).

The processes train the model that threads train with as many shards, byte for byte; a process that
raises or is killed, and Ctrl-C, stop them all with one line and nothing written. Under DVC (a rank
killed mid-epoch, `dvc exp run -S train.processes=2`), see the slow tests at the end.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scratchnet.errors import ScratchnetError
from scratchnet.training import launch
from stages.fetch import fetch
from stages.preprocess import preprocess
from tests.support import ROOT

BIN = str(Path(sys.executable).parent)
ENV = {**os.environ, "PATH": BIN + os.pathsep + os.environ["PATH"]}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mpi")
    fetch(out_dir=root / "raw", dataset="digits")
    preprocess(raw_dir=root / "raw", out_dir=root / "prepared", val_size=200)
    return root / "prepared"


def train(prepared: Path, out: Path, *sets: str, env=ENV, popen=False):
    """`scratchnet train` on the prepared digits with its outputs under `out`."""
    cmd = ["scratchnet", "train", "--data", str(prepared), "--model-dir", str(out / "model"),
           "--metrics", str(out / "train.json"), "--timing", str(out / "timing.json"), "--live", str(out / "live"),
           "-p", str(ROOT / "params.yaml"), "--set", "augment_shift=0", *(a for s in sets for a in ("--set", s))]
    if popen:
        return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def outputs(out: Path) -> dict[str, str]:
    """Every file the stage wrote but the timing, with its hash (temporary files included, if left)."""
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != "timing.json"}


def ranks_running(out: Path) -> list[int]:
    """The pids of processes still running the train stage that writes to `out`."""
    mine = str(out).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mine in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_slices_are_summed_in_slice_order_however_they_are_spread():
    """MPIGroup's allreduce equals one process adding every slice left to right, bit for bit: 5 slices
    over 3 processes (1, 2, 2), a length that does not split evenly."""
    run = subprocess.run([str(Path(BIN) / "mpiexec"), "-n", "3", sys.executable, "-m", "mpi4py",
                          str(ROOT / "tests/support/mpi_sums.py"), "5", "1001"],
                         env={**ENV, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count(" ok") == 3


@pytest.mark.parametrize("preset, processes", [
    ("seed-mlp", 2),
    ("mlp", 3),  # batch-normalised, and an uneven split of each batch
    pytest.param("mlp", 2, marks=pytest.mark.slow),
    pytest.param("seed-mlp", 3, marks=pytest.mark.slow),
])
def test_processes_train_the_model_threads_train_with_as_many_shards(prepared, tmp_path, preset, processes):
    by_threads = train(prepared, tmp_path / "threads", f"model={preset}", "epochs=3", f"shards={processes}")
    by_processes = train(prepared, tmp_path / "mpi", f"model={preset}", "epochs=3", f"processes={processes}")
    assert by_threads.returncode == 0, by_threads.stderr
    assert by_processes.returncode == 0, by_processes.stderr
    assert f"training over {processes} MPI processes" in by_processes.stderr
    assert by_processes.stderr.count("best epoch") == 1  # one process speaks
    threads, processes_ = outputs(tmp_path / "threads"), outputs(tmp_path / "mpi")
    assert "model/model.npz" in threads and "live/plots/metrics/train/loss.tsv" in threads
    assert processes_ == threads  # weights, manifest (no process count in it), metrics, every epoch's curves
    if processes > (os.cpu_count() or 1):
        assert "warning: train.processes is" in by_processes.stderr


def test_a_process_that_raises_stops_every_process_and_writes_nothing(prepared, tmp_path):
    out = tmp_path / "out"
    assert train(prepared, out, "model=seed-mlp", "epochs=1").returncode == 0
    before = outputs(out)
    inject = tmp_path / "inject"  # process 1 runs out of memory at its third step
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(
        "import os\n"
        "if os.environ.get('PMI_RANK') == '1' and os.environ.get('SCRATCHNET_MPI_PROCESSES'):\n"
        "    from scratchnet.nn import trainer\n"
        "    step, calls = trainer.Trainer.step, []\n"
        "    def failing(self, x, y):\n"
        "        calls.append(1)\n"
        "        if len(calls) == 3:\n"
        "            raise MemoryError('injected')\n"
        "        return step(self, x, y)\n"
        "    trainer.Trainer.step = failing\n")
    env = {**ENV, "PYTHONPATH": str(inject)}
    run = train(prepared, out, "model=seed-mlp", "epochs=50", "processes=2", env=env)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith(("error", "interrupted"))]
    assert errors == ["error: MPI process 1 of 2: MemoryError: injected"], run.stderr
    assert "Traceback" not in run.stderr and "MPI_Abort" not in run.stderr, run.stderr
    kept = {k: v for k, v in before.items() if not k.startswith("live/")}
    # earlier outputs as they were, no temp files (the DVCLive folder, written as epochs end, excepted: runner.py)
    assert {k: v for k, v in outputs(out).items() if not k.startswith("live/")} == kept
    assert ranks_running(out) == []


def test_ctrl_c_stops_every_process(prepared, tmp_path):
    out = tmp_path / "out"
    proc = train(prepared, out, "model=seed-mlp", "epochs=1000", "processes=2", popen=True)
    try:
        for line in proc.stderr:  # wait until they are really training
            if line.startswith("epoch"):
                break
        assert len(ranks_running(out)) >= 3  # the launcher, mpiexec, the processes
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert [line for line in err.splitlines() if line.startswith(("error", "interrupted"))] == [
        "interrupted: outputs from earlier runs were left as they were"], err
    deadline = time.monotonic() + 10
    while ranks_running(out) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ranks_running(out) == []
    assert not (out / "model").exists() and not (out / "train.json").exists()


def test_without_mpi_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py raises ImportError
    with pytest.raises(launch.MPIMissing, match=r"pip install -e '\.\[mpi\]'"):
        launch.launcher()
    monkeypatch.delitem(sys.modules, "mpi4py")
    monkeypatch.setattr(launch.shutil, "which", lambda *a, **k: None)
    with pytest.raises(launch.MPIMissing, match=r"no mpiexec.*\[mpi\]"):
        launch.launcher()


def test_the_launch_command_for_each_mpi_and_host_list(tmp_path, monkeypatch):
    tail = [sys.executable, "-P", "-m", "mpi4py", "-m", "stages.train", "--set", "processes=2"]
    assert launch.command("mpiexec", "mpich", 2, None, "stages.train", ["--set", "processes=2"]) == ["mpiexec", "-n", "2", *tail]
    assert launch.command("mpiexec", "mpich", 2, ["a", "b:2"], "stages.train", ["--set", "processes=2"])[3:5] == ["-hosts", "a,b:2"]
    assert launch.command("mpiexec", "mpich", 2, "hosts.txt", "stages.train", ["--set", "processes=2"])[3:5] == ["-f", "hosts.txt"]
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0)
    openmpi = launch.command("mpiexec", "openmpi", 2, ["a", "b"], "stages.train", ["--set", "processes=2"],
                             [launch.WORLD, "PYTHONPATH"])
    assert {"--oversubscribe", "--allow-run-as-root"} <= set(openmpi)  # what Open MPI refuses by default
    assert openmpi[openmpi.index("--host") + 1] == "a,b" and openmpi[-len(tail):] == tail
    assert [openmpi[i + 1] for i, a in enumerate(openmpi) if a == "-x"] == [launch.WORLD, "PYTHONPATH"]  # remote ones too
    with pytest.raises(ScratchnetError, match="no hostfile"):
        launch.check_hosts(str(tmp_path / "missing"))


def test_the_launchers_noise_is_dropped_and_the_first_error_kept(capsys):
    relay = launch._Relay()
    for line in ["epoch   1  loss 0.5\n", "error: MPI process 1 of 2: MemoryError: injected\n",
                 "Abort(1) on node 1 (rank 1 in comm 0): application called MPI_Abort(MPI_COMM_WORLD, 1) - process 1\n",
                 "interrupted: outputs from earlier runs were left as they were\n",
                 "=" * 80 + "\n", "=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES\n", "=" * 80 + "\n"]:
        relay.feed(line)
    assert capsys.readouterr().err == "epoch   1  loss 0.5\n"
    assert relay.reason(1, 2) == "MPI process 1 of 2: MemoryError: injected"
    killed = launch._Relay()
    for line in ["=" * 20 + "\n", "=   RANK 1 PID 99 RUNNING AT node\n", "=   KILLED BY SIGNAL: 9 (Killed)\n", "=" * 20 + "\n"]:
        killed.feed(line)
    assert killed.reason(9, 2).startswith("MPI process 1 of 2 was killed by SIGKILL")
    assert "nothing was written" in launch._Relay().reason(9, 2)


def test_the_processes_are_no_part_of_what_is_learned(prepared, tmp_path):
    """train() in one process with processes=2 trains what 2 processes train (shards raised to 2)."""
    from stages.train import train as train_stage

    out = tmp_path / "solo"
    train_stage(data_dir=prepared, model_dir=out / "model", metrics_path=out / "train.json",
                timing_path=out / "timing.json", live_dir=out / "live", log=lambda *_: None,
                **{**yaml.safe_load((ROOT / "params.yaml").read_text())["train"], "model": "seed-mlp", "epochs": 2,
                   "augment_shift": 0, "processes": 2})
    mpi = tmp_path / "mpi"
    assert train(prepared, mpi, "model=seed-mlp", "epochs=2", "processes=2").returncode == 0
    assert outputs(out) == outputs(mpi)
    assert "processes" not in (mpi / "model/model.json").read_text()
