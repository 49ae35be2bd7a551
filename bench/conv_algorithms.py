"""Each convolution algorithm on each layer shape: forward and backward time, float32 error.

    python bench/conv_algorithms.py [--rounds 15] [--markdown bench/RESULTS.md]   # about a minute

As training runs a shard: 64 images, BLAS on one thread, and two such layers stepping at once on
two threads (the presets' two shards on two cores); the algorithms interleaved round by round,
medians. Backward is the weight and input gradients, both by the layer's algorithm (the first
layer's input gradient is never computed). Error: the largest |float32 - float64| over the largest
|float64| output. The last table splits the `cnn` preset's second layer into its parts, to show
where Winograd's time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sections import write_section  # noqa: E402
from scratchnet import nn  # noqa: E402
from scratchnet.nn.conv import ALGORITHMS as CONV_ALGORITHMS  # noqa: E402
from scratchnet.nn.conv import choose_algorithm  # noqa: E402

# (where it is, input channels, output channels, input size); all 3x3, stride 1, padding 1
SHAPES = [
    ("cnn conv 1", 1, 32, 28), ("cnn conv 2", 32, 64, 14),
    ("small_cnn conv 1", 1, 16, 28), ("small_cnn conv 2", 16, 32, 14),
    ("wider: 64 -> 64", 64, 64, 14), ("wider: 128 -> 128", 128, 128, 14), ("wider: 64 -> 128", 64, 128, 28),
]
ALGORITHMS = [name for name in CONV_ALGORITHMS if name != "auto"]
BATCH = 64
THREADS = min(2, os.cpu_count() or 1)  # the cnn presets train two shards at once, one per core


def _layers(c: int, o: int, dtype=np.float32) -> dict[str, nn.Conv2D]:
    first = nn.Conv2D(c, o, 3, padding=1, rng=np.random.default_rng(0), dtype=dtype, algorithm="im2col")
    layers = {"im2col": first}
    for name in ALGORITHMS[1:]:
        layers[name] = nn.Conv2D(c, o, 3, padding=1, dtype=dtype, algorithm=name,
                                 weights={k: v.copy() for k, v in first.params.items()})
    return layers


def error(c: int, o: int, size: int) -> dict[str, float]:
    """float32 error of each algorithm against float64 im2col, on 8 ReLU-like inputs."""
    x = np.maximum(np.random.default_rng(1).standard_normal((8, c, size, size)), 0)
    ref = _layers(c, o, np.float64)["im2col"].forward(x, train=False)
    return {name: float(np.abs(layer.forward(x.astype(np.float32), train=False) - ref).max() / np.abs(ref).max())
            for name, layer in _layers(c, o).items()}


def timings(c: int, o: int, size: int, rounds: int, threads: int = THREADS) -> dict[str, tuple[float, float]]:
    """algorithm -> (forward ms, backward ms), medians over interleaved rounds. Each of `threads`
    threads steps a layer of its own at the same time, as the shards of a training step do."""
    rng = np.random.default_rng(2)
    # channels-last memory behind NCHW views, as the layers pass them to each other
    xs = [rng.random((BATCH, size, size, c), dtype=np.float32).transpose(0, 3, 1, 2) for _ in range(threads)]
    dys = [rng.standard_normal((BATCH, size, size, o)).astype(np.float32).transpose(0, 3, 1, 2) for _ in range(threads)]
    per_thread = [_layers(c, o) for _ in range(threads)]
    layers = {name: [mine[name] for mine in per_thread] for name in ALGORITHMS}
    for copies in layers.values():
        for layer in copies:
            layer.input_grad = c > 1  # a first layer's input gradient is never computed
    times = {name: ([], []) for name in layers}

    def step(layer, x, dy, out):
        start = time.perf_counter()
        layer.forward(x, train=True)
        mid = time.perf_counter()
        layer.backward(dy)
        out.append(((mid - start) * 1e3, (time.perf_counter() - mid) * 1e3))

    for r in range(rounds + 1):
        for name, copies in layers.items():
            out: list = []
            workers = [threading.Thread(target=step, args=(layer, x, dy, out)) for layer, x, dy in zip(copies, xs, dys)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            if r:  # the first round allocates the buffers
                times[name][0].extend(f for f, _ in out)
                times[name][1].extend(b for _, b in out)
    return {name: (statistics.median(f), statistics.median(b)) for name, (f, b) in times.items()}


def winograd_parts(rounds: int) -> list[tuple[str, float]]:
    """(part, ms) of the cnn preset's second layer's forward, im2col against Winograd F(4x4, 3x3),
    on one thread."""
    rng = np.random.default_rng(3)
    xh = rng.random((BATCH, 14, 14, 32), dtype=np.float32)
    layers = _layers(32, 64)
    im2col, wino = layers["im2col"], layers["winograd4"]
    wg = wino.winograd
    kernel, wmat = wg.kernel(wino.params["W"]), im2col._wmat().T
    cols = im2col._im2col(xh, 1)
    tiles = wg.input_tiles(xh, 1, 14, 14, "t.")
    mm = wg.products(tiles, kernel, "t.")
    out = np.empty((BATCH, 14, 14, 64), np.float32)
    parts = {
        "im2col: gather the columns": lambda: im2col._im2col(xh, 1),
        "im2col: one GEMM, K = 288": lambda: cols @ wmat,
        "winograd4: kernel transform G g G^T": lambda: wg.kernel(wino.params["W"]),
        "winograd4: input transform B^T d B": lambda: wg.input_tiles(xh, 1, 14, 14, "t."),
        "winograd4: 36 GEMMs, K = 32": lambda: wg.products(tiles, kernel, "t."),
        "winograd4: output transform A^T M A": lambda: wg.output(mm, out=out, tag="t."),
    }
    times = {name: [] for name in parts}
    for _ in range(rounds):
        for name, fn in parts.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    return [(name, statistics.median(t)) for name, t in times.items()]


def report(rounds: int) -> list[str]:
    lines = [f"Per layer, {BATCH} images per shard, {THREADS} shards at once on {THREADS} threads, BLAS on one thread each, "
             f"{rounds} interleaved rounds, medians; "
             "ms forward + backward; error = float32 against float64.", "",
             "| layer | C -> O, size | " + " | ".join(ALGORITHMS) + " | fastest | auto picks | float32 error "
             + " / ".join(ALGORITHMS) + " |",
             "| --- | --- |" + " ---: |" * len(ALGORITHMS) + " --- | --- | --- |"]
    print("\n".join(lines[2:]), flush=True)  # the header; each row follows as it is measured
    for where, c, o, size in SHAPES:
        t = timings(c, o, size, rounds)
        err = error(c, o, size)
        total = {name: sum(v) for name, v in t.items()}
        cells = " | ".join(f"{f:.1f} + {b:.1f} = {f + b:.1f}" for f, b in t.values())
        lines.append(f"| {where} | {c} -> {o}, {size}x{size} | {cells} | {min(total, key=total.get)} | "
                     f"{choose_algorithm(c, o, 3, 1, 1)} | {' / '.join(f'{e:.1e}' for e in err.values())} |")
        print(lines[-1], flush=True)
    lines += ["", "The `cnn` preset's second layer, forward, by part (ms, one thread alone):", "", "| part | ms |", "| --- | ---: |"]
    lines += [f"| {name} | {ms:.2f} |" for name, ms in winograd_parts(rounds * 3)]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--markdown", type=Path, help="replace the section between the conv-algorithms markers in this file")
    args = parser.parse_args(argv)
    with threadpool_limits(1):
        lines = report(args.rounds)
    print("\n".join(lines[lines.index("") + 1 + len(SHAPES) + 2:]))  # the per-part table
    if args.markdown:
        write_section(args.markdown, "conv algorithms", "bench/conv_algorithms.py",
                      "\n".join(["## Convolution algorithms per layer", "", "Command: `python bench/conv_algorithms.py "
                                  + " ".join(sys.argv[1:]) + "`", "", *lines]))

if __name__ == "__main__":
    main()
