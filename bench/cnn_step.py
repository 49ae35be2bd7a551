"""Where a `cnn` training step goes, layer by layer: one shard alone, then two shards at once.

    python bench/cnn_step.py [--arch cnn] [--steps 30]

Each shard is 64 images (half of a 128-image batch), stepped as DataParallel steps a replica (the
fast plan, BLAS on one thread), and timed layer by layer: first alone, then with a second shard
stepping on a second thread at the same time, as training runs them (the first shard's times are
reported). Last, the step's GEMMs alone, on operands prepared beforehand.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import ARCHS  # noqa: E402
from scratchnet import nn  # noqa: E402

SHARD = 64


def profile(arch: str, steps: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(layer kinds in run order, forward ms, backward ms) per layer, means over `steps` after 3 warm-up steps."""
    model = nn.build(ARCHS[arch], (1, 28, 28), 10, np.random.default_rng(0))  # the fast plan
    order = model.plan.order
    x = np.random.default_rng(seed).random((SHARD, 1, 28, 28), dtype=np.float32)
    y = np.random.default_rng(seed + 1).integers(0, 10, SHARD)
    fwd, bwd = np.zeros(len(order)), np.zeros(len(order))
    for step in range(steps + 3):
        if step == 3:
            fwd[:], bwd[:] = 0, 0
        h = x
        for i, layer in enumerate(order):
            start = time.perf_counter()
            h = layer.forward(h, train=True)
            fwd[i] += time.perf_counter() - start
        _, d = nn.softmax_cross_entropy(h, y)
        for i in reversed(range(model.plan.first, len(order))):
            start = time.perf_counter()
            d = order[i].backward(d)
            bwd[i] += time.perf_counter() - start
    return [layer.kind for layer in order], fwd / steps * 1e3, bwd / steps * 1e3


def gemms_alone(arch: str, steps: int) -> float:
    """ms per shard step of the GEMMs the step makes (im2col's, the dense layers', the per-offset
    input-gradient ones), on operands prepared beforehand: no gathers, pooling or element-wise work."""
    model = nn.build(ARCHS[arch], (1, 28, 28), 10, np.random.default_rng(0))
    rng, calls, shape = np.random.default_rng(1), [], model.input_shape
    for layer in model.layers:
        out = layer.out_shape(shape)
        if isinstance(layer, (nn.Conv2D, nn.Dense)):
            w = layer.params["W"]
            k = w[0].size if isinstance(layer, nn.Conv2D) else w.shape[0]
            o = w.shape[0] if isinstance(layer, nn.Conv2D) else w.shape[1]
            rows = SHARD * (out[1] * out[2] if isinstance(layer, nn.Conv2D) else 1)
            a, b, dy = (rng.random(s, dtype=np.float32) for s in ((rows, k), (k, o), (rows, o)))
            calls += [lambda a=a, b=b: a @ b, lambda a=a, dy=dy: dy.T @ a]  # forward, dW
            if layer.input_grad and isinstance(layer, nn.Conv2D):  # dx: one GEMM per kernel offset
                wt = rng.random((layer.k ** 2, o, shape[0]), dtype=np.float32)
                calls += [lambda dy=dy, wt=wt: [dy @ m for m in wt]]
            elif layer.input_grad:
                calls += [lambda dy=dy, b=b: dy @ b.T]
        shape = out
    for call in calls:
        call()
    start = time.perf_counter()
    for _ in range(steps):
        for call in calls:
            call()
    return (time.perf_counter() - start) / steps * 1e3


def run(arch: str, steps: int, threads: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    results: dict[int, tuple] = {}
    workers = [threading.Thread(target=lambda k=k: results.__setitem__(k, profile(arch, steps, k))) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cnn", choices=list(ARCHS))
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    with threadpool_limits(1):
        alone = run(args.arch, args.steps, 1)
        paired = run(args.arch, args.steps, 2)
        gemm = gemms_alone(args.arch, args.steps)
    print(f"| layer ({args.arch}, fast plan order) | forward ms, alone | backward ms, alone | forward ms, two at once | backward ms, two at once |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for i, kind in enumerate(alone[0]):
        print(f"| {i}: {kind} | {alone[1][i]:.2f} | {alone[2][i]:.2f} | {paired[1][i]:.2f} | {paired[2][i]:.2f} |")
    print(f"| step | {alone[1].sum():.1f} | {alone[2].sum():.1f} | {paired[1].sum():.1f} | {paired[2].sum():.1f} |")
    print(f"\none shard's step: {alone[1].sum() + alone[2].sum():.1f} ms alone, "
          f"{paired[1].sum() + paired[2].sum():.1f} ms with a second shard stepping beside it; "
          f"its GEMMs alone, on operands prepared beforehand: {gemm:.1f} ms")


if __name__ == "__main__":
    main()
