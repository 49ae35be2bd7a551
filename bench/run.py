"""Side-by-side training and inference benchmark: scratchnet's NumPy engine against PyTorch CPU.

Same architectures, initial weights, batch size, dtype (float32), thread count and batches, in one
process, alternating the engines round by round; medians over rounds:

    python bench/run.py [--quick]

OpenBLAS runs free to pick its best kernel: a machine's OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE,
which pin it, are dropped (the script restarts itself without them before NumPy loads).

The last line is machine-readable: `speedups: mlp_train=S mlp_infer=S cnn_train=S small_cnn_train=S
cnn_train_vs_cl=S`, each S being PyTorch's time (channels-last for the `_vs_cl` one) over
scratchnet's for the same work (above 1: scratchnet is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

PINNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if __name__ == "__main__" and any(v in os.environ for v in PINNING):  # before NumPy loads OpenBLAS
    os.execve(sys.executable, [sys.executable, *sys.argv], {k: v for k, v in os.environ.items() if k not in PINNING})

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is not an installed package

from bench.sections import write_section  # noqa: E402
from scratchnet import nn  # noqa: E402
from scratchnet.data.idx import read_idx  # noqa: E402
from scratchnet.training.presets import PRESETS  # noqa: E402

SMALL_CNN = [
    {"type": "conv2d", "filters": 16, "kernel": 3, "padding": 1}, {"type": "relu"}, {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 32, "kernel": 3, "padding": 1}, {"type": "relu"}, {"type": "maxpool2d", "size": 2},
    {"type": "flatten"}, {"type": "dense", "units": "classes"},
]
ARCHS = {"mlp": PRESETS["seed-mlp"].layers, "cnn": PRESETS["cnn"].layers, "small_cnn": SMALL_CNN}


def load_mnist():
    folder = Path(os.environ.get("SCRATCHNET_MNIST_DIR") or ROOT.parent / "shared" / "data" / "mnist")
    def images(name):
        return (read_idx(folder / f"{name}.gz").astype(np.float32) / 255)[:, None]
    return (images("train-images-idx3-ubyte"), read_idx(folder / "train-labels-idx1-ubyte.gz").astype(np.int64),
            images("t10k-images-idx3-ubyte"))


def flops_per_sample(model: nn.Sequential) -> tuple[int, int]:
    """(forward, training) multiply-add FLOPs per sample of the dense and conv layers."""
    fwd = train = 0
    shape = model.input_shape
    for layer in model.layers:
        out = layer.out_shape(shape)
        if isinstance(layer, (nn.Dense, nn.Conv2D)):
            f = 2 * layer.params["W"].size * (out[1] * out[2] if isinstance(layer, nn.Conv2D) else 1)
            fwd += f
            train += f * (3 if layer.input_grad else 2)  # forward, dW, and dx unless nobody needs it
        shape = out
    return fwd, train


def _linear(torch, layer, spatial):
    lin = torch.nn.Linear(*layer.params["W"].shape)
    lin.weight.data = torch.from_numpy(layer.params["W"].T.copy())
    lin.bias.data = torch.from_numpy(layer.params["b"].copy())
    return lin


def _conv(torch, layer, spatial):
    w = layer.params["W"]
    conv = torch.nn.Conv2d(w.shape[1], w.shape[0], layer.k, stride=layer.stride, padding=layer.pad)
    conv.weight.data = torch.from_numpy(w.copy())
    conv.bias.data = torch.from_numpy(layer.params["b"].copy())
    return conv


def _batchnorm(torch, layer, spatial):
    n = layer.params["gamma"].shape[0]
    bn = (torch.nn.BatchNorm2d if spatial else torch.nn.BatchNorm1d)(n, eps=layer.eps, momentum=1 - layer.momentum)
    arrays = {**layer.params, **layer.state}
    for name, key in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "mean"), ("running_var", "var")):
        getattr(bn, name).data = torch.from_numpy(arrays[key].copy())
    return bn


# layer kind -> its PyTorch module with the same weights; a kind not here is translated by its ONNX
# op (ONNX_OPS), which covers the element-wise layers a user may add
TORCH_LAYERS = {
    "dense": _linear,
    "conv2d": _conv,
    "batchnorm": _batchnorm,
    "maxpool2d": lambda torch, layer, spatial: torch.nn.MaxPool2d(layer.size, layer.stride),
    "dropout": lambda torch, layer, spatial: torch.nn.Dropout(layer.rate),
}
ONNX_OPS = {"Flatten": "Flatten", "Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh"}


def torch_model(model: nn.Sequential):
    """The same layers and weights as a torch.nn.Sequential."""
    import torch

    layers, spatial = [], len(model.input_shape) == 3  # batchnorm: 2d on images, 1d after flatten
    for layer in model.layers:
        spatial = spatial and layer.kind != "flatten"
        if layer.kind in TORCH_LAYERS:
            layers.append(TORCH_LAYERS[layer.kind](torch, layer, spatial))
            continue
        (op, _, _, _), = layer.onnx("x", "y", "")
        layers.append(getattr(torch.nn, ONNX_OPS[op])())
    return torch.nn.Sequential(*layers)


SPEEDUPS = ("mlp_train", "mlp_infer", "cnn_train", "small_cnn_train", "cnn_train_vs_cl")  # the last line's names
SHARDS = {"mlp": PRESETS["seed-mlp"].shards, "cnn": PRESETS["cnn"].shards, "small_cnn": 2}


class Ours:
    """scratchnet's engine, stepped the way the train stage steps it (nn.Trainer)."""

    def __init__(self, arch, seed=0):
        self.model = nn.build(ARCHS[arch], (1, 28, 28), 10, np.random.default_rng(seed))
        opt = nn.SGD(self.model.parameters(), self.model.gradients(), lr=0.01, momentum=0.9)
        self.trainer = nn.Trainer(self.model, opt, loss=nn.softmax_cross_entropy, shards=SHARDS[arch],
                                  rng=np.random.default_rng(seed + 1))

    def epoch(self, x, y, batch, batches):
        with self.trainer:
            for b in range(batches):
                i = (b * batch) % (len(x) - batch)
                self.trainer.step(x[i:i + batch], y[i:i + batch])

    def infer(self, x, batch):
        with self.trainer:
            return self.trainer.predict_logits(x, batch)


class Torch:
    def __init__(self, arch, channels_last=False, seed=0):
        import torch

        self.torch = torch
        self.model = torch_model(Ours(arch, seed).model)
        self.cl = channels_last
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)

    def _x(self, x):
        t = self.torch.from_numpy(x)
        return t.contiguous(memory_format=self.torch.channels_last) if self.cl else t

    def epoch(self, x, y, batch, batches):
        F = self.torch.nn.functional
        self.model.train()
        xt, yt = self.torch.from_numpy(x), self.torch.from_numpy(y)
        for b in range(batches):
            i = (b * batch) % (len(x) - batch)
            self.opt.zero_grad(set_to_none=True)
            xb = xt[i:i + batch]
            xb = xb.contiguous(memory_format=self.torch.channels_last) if self.cl else xb
            F.cross_entropy(self.model(xb), yt[i:i + batch]).backward()
            self.opt.step()

    def infer(self, x, batch):
        self.model.eval()
        with self.torch.inference_mode():
            return [self.model(self._x(x[i:i + batch])) for i in range(0, len(x), batch)]


class GemmFloor:
    """The dense layers' GEMMs alone, for inference over x in batches, on inputs prepared beforehand:
    no bias, activation, allocation or Python between them. Its time is a floor for any engine that
    makes the same GEMM calls with NumPy's BLAS, so PyTorch's time over it caps the reachable speedup."""

    def __init__(self, model: nn.Sequential, x: np.ndarray, batch: int):
        weights = [layer.params["W"] for layer in model.layers if isinstance(layer, nn.Dense)]
        self.calls = []  # (input, weights, output) of every GEMM, in order
        for i in range(0, len(x), batch):
            h = x[i:i + batch].reshape(len(x[i:i + batch]), -1)
            for w in weights:
                self.calls.append((h, w, np.empty((len(h), w.shape[1]), np.float32)))
                h = np.maximum(h @ w, 0)

    def __call__(self) -> None:
        for a, w, out in self.calls:
            np.matmul(a, w, out=out)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_gib() -> float:
    import psutil

    return psutil.virtual_memory().total / 2 ** 30


def gemm_gflops(n=2048, reps=5) -> float:
    a, b = np.ones((n, n), np.float32), np.ones((n, n), np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n ** 3 / best / 1e9


def _timed(fn, settle: bool = False) -> float:
    """Seconds fn() takes. settle: first wait until the other engine's worker threads have gone to
    sleep: OpenMP's (PyTorch) and OpenBLAS's keep spinning for a while after their last task, and
    slow whatever runs next."""
    if settle:
        time.sleep(0.5)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_memory(engine: str, arch: str, batch: int, batches: int) -> tuple[float, float]:
    """Peak RSS growth (MiB) while training, then also inferring, in a fresh process, over its RSS
    once the data and model are loaded: what the engine itself allocates (activations, buffers,
    state). Returns (training, training and inference)."""
    code = f"import bench.run as r; r._peak_child({engine!r}, {arch!r}, {batch}, {batches})"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    train, both = out.stdout.strip().splitlines()[-1].split()
    return float(train), float(both)


def _peak_child(engine: str, arch: str, batch: int, batches: int) -> None:
    import threading

    import psutil
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(2)
    threadpool_limits(2)
    x, y, xtest = load_mnist()
    e = Ours(arch) if engine == "scratchnet" else Torch(arch, channels_last=engine == "pytorch-cl")
    me = psutil.Process()
    base = peak = me.memory_info().rss
    done = threading.Event()

    def poll():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, me.memory_info().rss)
            time.sleep(0.001)

    watcher = threading.Thread(target=poll)
    watcher.start()
    e.epoch(x, y, batch, batches)
    train = peak
    e.infer(xtest, 1000)
    done.set()
    watcher.join()
    print((train - base) / 2 ** 20, (peak - base) / 2 ** 20)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few hundred batches, 3 rounds: under two minutes")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per engine (default 5, quick 3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--markdown", type=Path, help="also put the header and table in this file, between the bench-run markers (bench/RESULTS.md)")
    parser.add_argument("--archs", default="mlp,cnn,small_cnn", help="comma-separated subset to run")
    return parser.parse_args(argv)


def machine_header(threads: int, batch: int, rounds: int, gemm: float) -> list[str]:
    """What the figures were measured on: CPU, libraries, BLAS, the GEMM rate."""
    import torch
    from threadpoolctl import threadpool_info

    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, {i['num_threads']} threads)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    return [
        f"machine: {_cpu_name()}, {os.cpu_count()} cores, {_mem_gib():.0f} GiB; Linux {platform.release()}; "
        f"python {platform.python_version()}",
        f"numpy {np.__version__}, BLAS: {'; '.join(blas)}; torch {torch.__version__}, {torch.get_num_threads()} threads",
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}",
        f"float32 GEMM (2048^3): {gemm:.1f} GFLOP/s; batch {batch}, {rounds} rounds, medians",
    ]


def measure(archs: list[str], *, quick: bool, rounds: int, batch: int, gemm: float) -> dict:
    """Time every engine on every arch, alternating engines round by round. Returns {"rows": one
    dict per (arch, engine), "speedups": name -> ratio, "timed_batches": arch -> batches}."""
    x, y, xtest = load_mnist()
    epoch_batches = len(x) // batch
    timed_batches = {"mlp": 200 if quick else epoch_batches, "cnn": 15 if quick else 60, "small_cnn": 30 if quick else 120}
    timed_batches = {a: b for a, b in timed_batches.items() if a in archs}
    rows, speed = [], {}
    for arch, batches in timed_batches.items():
        engines = {"scratchnet": Ours(arch), "pytorch": Torch(arch)}
        if arch != "mlp":
            engines["pytorch-cl"] = Torch(arch, channels_last=True)
        fwd_flops, train_flops = flops_per_sample(engines["scratchnet"].model)
        for e in engines.values():  # warm-up: first-touch allocations, lazy init
            e.epoch(x, y, batch, 3)
            e.infer(xtest[:2000], 1000)
        train_t = {k: [] for k in engines}
        infer_t = {k: [] for k in engines}
        floor = GemmFloor(engines["scratchnet"].model, xtest, 1000) if arch == "mlp" else None
        floor_t = []
        for _ in range(rounds):
            for name, e in engines.items():
                train_t[name].append(_timed(partial(e.epoch, x, y, batch, batches), settle=True) * epoch_batches / batches)
                infer_t[name].append(_timed(partial(e.infer, xtest, 1000), settle=True))
            if floor is not None:
                floor_t.append(_timed(floor, settle=True))
        train_m = {k: statistics.median(v) for k, v in train_t.items()}
        infer_m = {k: statistics.median(v) for k, v in infer_t.items()}
        for name in engines:
            t, inf = train_m[name], infer_m[name]
            rows.append({"arch": arch, "engine": name, "epoch_s": t, "train_sps": epoch_batches * batch / t,
                         "infer_sps": len(xtest) / inf, "train_frac": train_flops * epoch_batches * batch / t / 1e9 / gemm,
                         "infer_frac": fwd_flops * len(xtest) / inf / 1e9 / gemm,
                         "speedup": train_m["pytorch"] / t, "infer_speedup": infer_m["pytorch"] / inf,
                         **dict(zip(("train_mib", "peak_mib"), peak_memory(name, arch, batch, 20)))})
        speed[f"{arch}_train"] = train_m["pytorch"] / train_m["scratchnet"]
        speed[f"{arch}_infer"] = infer_m["pytorch"] / infer_m["scratchnet"]
        if floor_t:  # the most any engine making these GEMM calls with NumPy's BLAS could reach
            speed[f"{arch}_infer_ceiling"] = infer_m["pytorch"] / statistics.median(floor_t)
        if "pytorch-cl" in engines:
            speed[f"{arch}_train_vs_cl"] = train_m["pytorch-cl"] / train_m["scratchnet"]
    return {"rows": rows, "speedups": speed, "timed_batches": timed_batches}


def report(results: dict) -> tuple[list[str], list[str], str]:
    """(table lines, notes, the machine-readable speedups line) from measure()'s results."""
    table = ["| arch | engine | s/epoch | train samples/s | train speedup | infer samples/s | infer speedup "
             "| GEMM frac train | GEMM frac infer | train MiB | peak MiB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results["rows"]:
        table.append(f"| {r['arch']} | {r['engine']} | {r['epoch_s']:.3f} | {r['train_sps']:,.0f} | {r['speedup']:.2f} | "
                     f"{r['infer_sps']:,.0f} | {r['infer_speedup']:.2f} | {r['train_frac']:.1%} | {r['infer_frac']:.1%} | "
                     f"{r['train_mib']:.0f} | {r['peak_mib']:.0f} |")
    speed = results["speedups"]
    notes = [
        "speedup = PyTorch (default memory format) time / this engine's time; above 1 = faster than PyTorch.",
        "s/epoch extrapolated to a full 60,000-image epoch from the timed batches: "
        + ", ".join(f"{a} {b}" for a, b in results["timed_batches"].items()),
        "train MiB = RSS growth during 20 training batches, peak MiB = the same and then inference on the test "
        "set (batches of 1,000), in a fresh process.",
        "extra: " + " ".join(f"{k}={v:.2f}" for k, v in speed.items()),
    ]
    last = "speedups: " + " ".join(f"{k}={speed[k]:.2f}" for k in SPEEDUPS if k in speed)
    return table, notes, last


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    rounds = args.rounds or (3 if args.quick else 5)
    gemm = gemm_gflops()
    header = machine_header(args.threads, args.batch, rounds, gemm)
    print("\n".join(header))
    results = measure(args.archs.split(","), quick=args.quick, rounds=rounds, batch=args.batch, gemm=gemm)
    table, notes, last = report(results)
    print("\n" + "\n".join(table) + "\n\n" + "\n".join(notes))
    if args.markdown:
        command = "python bench/run.py " + " ".join(sys.argv[1:])
        write_section(args.markdown, "bench run", "bench/run.py",
                      "```\n" + "\n".join(header) + "\n```\n\nCommand: `" + command + "`\n\n" + "\n".join(table)
                      + "\n\n" + "\n\n".join(notes) + "\n\n`" + last + "`")
    if args.json:
        args.json.write_text(json.dumps({**results, "gemm_gflops": gemm}, indent=2))
    print(last)


if __name__ == "__main__":
    main()
