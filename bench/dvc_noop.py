"""How long a no-op `dvc repro` takes here, against the floor DVC itself sets on this machine.

Times `dvc repro` in this checkout (it must be up to date: run `dvc repro` first) and in a throwaway
one-stage DVC project, alternating the two, and prints the medians and their ratio:

    python bench/dvc_noop.py [--rounds 7]

The floor is DVC's own start-up (importing ~900 modules) and parsing dvc.yaml and dvc.lock with its
pure-Python YAML reader; no pipeline can go below the one-stage project's time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _dvc() -> str:
    return shutil.which("dvc") or "dvc"


def timed_repro(where: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([_dvc(), "repro"], cwd=where, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode or "Running stage" in done.stdout:
        raise SystemExit(f"error: `dvc repro` in {where} was not a no-op:\n{done.stdout}{done.stderr}")
    return seconds


def one_stage_project(where: Path) -> Path:
    for cmd in (["git", "init", "-q"], [_dvc(), "init", "-q"],
                [_dvc(), "stage", "add", "-q", "-n", "copy", "-d", "a.txt", "-o", "b.txt", "cp a.txt b.txt"]):
        if cmd[1] == "stage":
            (where / "a.txt").write_text("a\n")
        subprocess.run(cmd, cwd=where, check=True, capture_output=True)
    subprocess.run([_dvc(), "repro", "-q"], cwd=where, check=True, capture_output=True)
    return where


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        floor_dir = one_stage_project(Path(tmp))
        ours, floor = [], []
        for _ in range(args.rounds):
            ours.append(timed_repro(ROOT))
            floor.append(timed_repro(floor_dir))
    a, b = statistics.median(ours), statistics.median(floor)
    print(f"no-op dvc repro, median of {args.rounds}: scratchnet {a:.2f} s "
          f"(range {min(ours):.2f}-{max(ours):.2f}); one-stage DVC project {b:.2f} s "
          f"(range {min(floor):.2f}-{max(floor):.2f}); ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
