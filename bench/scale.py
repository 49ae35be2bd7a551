"""Data-parallel scaling on this machine, and the arithmetic for a cluster.

Training images per second for each preset with every batch split over 1, 2 and 4 threads
(train.shards) or MPI processes (train.processes, through nn.collective.MPIGroup as the train stage
runs them), and the time one allreduce of the preset's gradients takes between processes. Then, from
the measured one-process step time and the gradient's size, the expected efficiency of P machines
on 1 and 10 Gb/s links. Trainer steps only (no augmentation, no validation), on random images of
MNIST's shape, after a few warm-up steps; medians over steps.

    python -m bench.scale [--steps 20] [--write]     # --write: its section of bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is not an installed package

from bench.sections import write_section  # noqa: E402
from scratchnet import nn  # noqa: E402
from scratchnet.training.loop import make_optimizer  # noqa: E402
from scratchnet.training.presets import PRESETS  # noqa: E402

PRESET_NAMES = ("seed-mlp", "mlp", "cnn")
WAYS = (1, 2, 4)
WARM_UP = 3
LINKS = {"1 Gb/s": 1e9 / 8, "10 Gb/s": 10e9 / 8}  # bytes per second
LATENCY = 50e-6  # seconds per message on switched Ethernet with TCP: an assumption, stated in the table
MACHINES = (2, 8)


def step_seconds(preset: str, shards: int, steps: int, group=None) -> tuple[float, float | None, int]:
    """(median seconds per training step, median seconds per gradient allreduce or None, parameters)
    for `preset` with each batch in `shards` slices (spread over `group`'s processes if given)."""
    recipe = PRESETS[preset].replace(shards=shards)
    rng = np.random.default_rng(0)
    model = nn.build(recipe.layers, (1, 28, 28), 10, rng)
    x = rng.random((recipe.batch_size, 1, 28, 28), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, recipe.batch_size)]
    trainer = nn.Trainer(model, make_optimizer(recipe, model), loss=nn.softmax_cross_entropy, shards=shards,
                         rng=rng, clip_dz=recipe.clip_dz, clip_value=recipe.clip_value, clip_norm=recipe.clip_norm,
                         group=group)
    times, reduces = [], []
    with trainer:
        for i in range(WARM_UP + steps):
            if group is not None:
                group.comm.Barrier()
            start = time.perf_counter()
            trainer.step(x, y)
            if i >= WARM_UP:
                times.append(time.perf_counter() - start)
        if group is not None:
            flat, parts = model.gradients().flat, [trainer.parallel._replica_grads[k].flat for k in trainer.parallel.mine]
            for _ in range(WARM_UP + steps):
                group.comm.Barrier()
                start = time.perf_counter()
                group.sum_slices(flat, parts)
                reduces.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(reduces[WARM_UP:]) if reduces else None, model.num_parameters()


def worker(preset: str, steps: int) -> None:
    """One of the MPI processes: measure, and let the first print the figures as JSON."""
    from mpi4py import MPI

    from scratchnet.nn.collective import MPIGroup

    group = MPIGroup()
    seconds, reduce, _ = step_seconds(preset, group.size, steps, group)
    seconds = group.comm.allreduce(seconds, op=MPI.MAX)  # the slowest process sets the pace
    if group.rank == 0:
        print(json.dumps({"seconds": seconds, "reduce": reduce}))


def over_processes(preset: str, processes: int, steps: int) -> dict:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    cores = os.cpu_count() or 1
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "OPENBLAS_NUM_THREADS": str(max(1, cores // processes)), "OMP_NUM_THREADS": str(max(1, cores // processes))}
    run = subprocess.run([str(mpiexec), "-n", str(processes), sys.executable, "-m", "mpi4py", "-m", "bench.scale",
                          "--worker", preset, "--steps", str(steps)], env=env, capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def measure(steps: int) -> dict:
    results = {}
    for preset in PRESET_NAMES:
        batch = PRESETS[preset].batch_size
        one, _, params = step_seconds(preset, 1, steps)
        row = {"params": params, "batch": batch, "step": one, "threads": {}, "processes": {}, "reduce": {}}
        for ways in WAYS:
            row["threads"][ways] = batch / (one if ways == 1 else step_seconds(preset, ways, steps)[0])
            if ways > 1:
                figures = over_processes(preset, ways, steps)
                row["processes"][ways] = batch / figures["seconds"]
                row["reduce"][ways] = figures["reduce"]
            else:
                row["processes"][ways] = row["threads"][ways]
        results[preset] = row
        print(preset, json.dumps(row), flush=True)
    return results


def cluster(step: float, params: int, machines: int, bandwidth: float) -> float:
    """Expected efficiency of `machines` machines splitting each batch, each step's compute divided
    evenly and a ring allreduce of the float32 gradient after it (no overlap)."""
    compute = step / machines
    reduce = 2 * (machines - 1) * LATENCY + 2 * (machines - 1) / machines * 4 * params / bandwidth
    return compute / (compute + reduce)


def report(results: dict, cores: int) -> str:
    lines = ["## Scaling over threads and MPI processes (`python -m bench.scale --write`)", "",
             f"This machine: {cores} cores. Training images per second, each batch split over N threads "
             "(`train.shards: N`) or N MPI processes (`train.processes: N`); trainer steps only, medians. "
             "More ways than cores take turns.", "",
             "| preset | batch | " + " | ".join(f"{w} thread{'s' * (w > 1)}" for w in WAYS) + " | "
             + " | ".join(f"{w} processes" for w in WAYS[1:]) + " | allreduce, " + ", ".join(f"{w} proc." for w in WAYS[1:]) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in WAYS) + " | " + " | ".join("---:" for _ in WAYS[1:]) + " | ---: |"]
    for name, r in results.items():
        lines.append(f"| `{name}` | {r['batch']} | " + " | ".join(f"{r['threads'][w]:,.0f}" for w in WAYS) + " | "
                     + " | ".join(f"{r['processes'][w]:,.0f}" for w in WAYS[1:]) + " | "
                     + ", ".join(f"{r['reduce'][w] * 1e3:.2f} ms" for w in WAYS[1:]) + " |")
    lines += ["", "### The arithmetic for a cluster", "",
              "Each step every machine computes its share of the batch, then the float32 gradient is summed "
              "across machines. A ring allreduce (what `MPIGroup.sum_slices` amounts to with one slice per "
              "process) sends and receives 2 (P - 1) / P of the gradient's bytes per machine, in 2 (P - 1) "
              f"messages. Expected efficiency = (t / P) / (t / P + 2 (P - 1) a + 2 (P - 1) / P x bytes / B), with "
              f"t the one-process step time measured above, a = {LATENCY * 1e6:.0f} us per message (assumed) "
              "and B the link's bandwidth; compute and communication do not overlap.", "",
              "| preset | parameters | bytes reduced per step | step, 1 process | "
              + " | ".join(f"{m} machines, {link}" for link in LINKS for m in MACHINES) + " |",
              "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in LINKS for _ in MACHINES) + " |"]
    for name, r in results.items():
        lines.append(f"| `{name}` | {r['params']:,} | {4 * r['params'] / 1e6:.2f} MB | {r['step'] * 1e3:.1f} ms | "
                     + " | ".join(f"{cluster(r['step'], r['params'], m, bw):.0%}" for bw in LINKS.values() for m in MACHINES)
                     + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--write", action="store_true", help="rewrite this script's section of bench/RESULTS.md")
    parser.add_argument("--worker", metavar="PRESET", help=argparse.SUPPRESS)  # one of the MPI processes
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.steps)
        return
    text = report(measure(args.steps), os.cpu_count() or 1)
    print(text)
    if args.write:
        write_section(ROOT / "bench" / "RESULTS.md", "scaling", "bench/scale.py", text)


if __name__ == "__main__":
    main()
