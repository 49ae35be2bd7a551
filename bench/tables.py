"""The models tables of README.md and docs/models.md, written from one source: bench/models.json,
which `bench/time_to_accuracy.py --record` updates with what it measures.

    python -m bench.tables --write      # rewrite both tables; tests/test_docs_numbers.py fails when they are stale
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.sections import read_section, write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "models.json"
SCRIPT = "`python -m bench.tables --write`"
LEVELS = ("0.98", "0.99", "0.995")

# what each preset is, in words (scratchnet/training/presets.py holds the values)
SHORT = {
    "seed-mlp": "the original project's 784-128-64-10 MLP and plain-SGD recipe",
    "mlp": "the same shape, batch-normalised, Nesterov momentum, cosine schedule, shifts",
    "mlp-long": "`mlp` over 30 epochs at a larger step",
    "cnn": "two 3x3 convolutions, a dense layer, dropout; Adam",
}
LONG = {
    "seed-mlp": ("784-128-64-10, ReLU, softmax, He init", "the original project's: SGD, batch 128, lr 0.01 x0.95 per epoch, "
                 "dZ clipped to [-10, 10], gradients to [-5, 5], 30 epochs"),
    "mlp": ("the same 784-128-64-10, each hidden layer batch-normalised before its ReLU", "SGD with Nesterov momentum 0.95, "
            "lr 0.05 with a cosine schedule, L2 5e-4, random shifts of up to 1 pixel, 20 epochs"),
    "mlp-long": ("the same as `mlp`", "`mlp`'s with momentum 0.9, lr 0.1, 30 epochs"),
    "cnn": ("conv 32 3x3, ReLU, pool, conv 64 3x3, ReLU, pool, dense 128, ReLU, dropout 0.3, dense 10",
            "Adam, lr 0.002 with a cosine schedule, random shifts of up to 1 pixel, 12 epochs, 2 shards"),
}
DEFAULT = "mlp"


def pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def name(preset: str) -> str:
    return f"`{preset}`" + (" (default)" if preset == DEFAULT else "")


def readme_table(results: dict) -> str:
    rows = ["| `train.model` | network | MNIST test accuracy | training time |", "| --- | --- | ---: | ---: |"]
    rows += [f"| {name(p)} | {SHORT[p]} | {pct(r['accuracy_mean'])} | {r['seconds']:.0f} s |" for p, r in results["presets"].items()]
    return "\n".join(rows) + f"\n\nMeasured on {results['measured_on']}: test accuracy as the mean over seeds 0-2, training seconds as the median."


def models_table(results: dict) -> str:
    rows = ["| preset | architecture | recipe | MNIST test accuracy | training time | first at 98 % | first at 99 % | first at 99.5 % |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for p, r in results["presets"].items():
        firsts = " | ".join("never" if r["first_at"][lv] is None else f"{r['first_at'][lv]:.0f} s" for lv in LEVELS)
        rows.append(f"| {name(p)} | {LONG[p][0]} | {LONG[p][1]} | {pct(r['accuracy_mean'])} ({pct(r['accuracy_min'])[:-2]}–"
                    f"{pct(r['accuracy_max'])}) | {r['seconds']:.0f} s | {firsts} |")
    rows.append("| `custom` | `train.layers`, a list of layer specs | the `mlp` recipe (Nesterov, lr 0.05, 20 epochs, ...), each key "
                "overridable: a conv net may want the `cnn` recipe's Adam at lr 0.002 | | | | | |")
    return "\n".join(rows) + (f"\n\nMeasured on {results['measured_on']} with `{results['command']}`: test accuracy of the model "
                              "the train stage keeps (best validation epoch), mean and range over the seeds; training seconds "
                              "(validation and test measurements not counted) and the seconds until test accuracy first "
                              "reached each level, medians over the seeds (never: some seed did not).")


def tables(results: dict | None = None) -> dict[Path, str]:
    """{file: the generated models table it holds}."""
    results = results or json.loads(RESULTS.read_text(encoding="utf-8"))
    return {ROOT / "README.md": readme_table(results), ROOT / "docs" / "models.md": models_table(results)}


def section(path: Path) -> str | None:
    """The models table as it stands in `path` (None if it has none)."""
    return read_section(path, "models table", SCRIPT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the tables in README.md and docs/models.md")
    args = ap.parse_args()
    for path, body in tables().items():
        if args.write:
            write_section(path, "models table", SCRIPT, body)
        else:
            print(f"{path.relative_to(ROOT)}:\n{body}\n")


if __name__ == "__main__":
    main()
