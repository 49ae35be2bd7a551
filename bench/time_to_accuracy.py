"""Time to accuracy: train a preset as the train stage does, and after each epoch measure test
accuracy (outside the timed part); report the training seconds until it first reached 98 %, 99 %
and 99.5 %, and the test accuracy of the model the stage keeps (best validation epoch).

    python bench/time_to_accuracy.py --model cnn --seeds 0 1 2 [--set augment_rotate=8 ...] [--record]

Reads data/prepared (run `dvc repro preprocess` first). Prints one JSON line per seed and a
markdown summary row. --record (a preset as it is, no --set) stores the summary in bench/models.json,
the source of the models tables (`python -m bench.tables --write` then rewrites them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratchnet import nn  # noqa: E402
from scratchnet.data.splits import load_split  # noqa: E402
from scratchnet.params.schema import parse_override  # noqa: E402
from scratchnet.params.train import SECTION as TRAIN  # noqa: E402
from scratchnet.training.loop import fit  # noqa: E402
from scratchnet.training.resolve import build_model, resolve_recipe  # noqa: E402

LEVELS = (0.98, 0.99, 0.995)


def run(section: dict, data: Path) -> dict:
    """Train once; {"seed", "curve": [(epoch, cumulative seconds, test accuracy)], "kept": test accuracy}."""
    recipe = resolve_recipe(TRAIN.validate(section))
    train, val, test = (load_split(data / f"{s}.npz") for s in ("train", "val", "test"))
    input_shape = (1, *train["x"].shape[1:])
    init_rng, fit_rng = np.random.default_rng(recipe.seed).spawn(2)
    model = build_model(recipe, input_shape, train["y"].shape[1], init_rng)
    x_test, labels = test["x"][:, None], test["labels"]
    curve, clock = [], [0.0]

    def on_epoch(row, seconds, trainer):
        clock[0] += seconds
        curve.append((row["epoch"], round(clock[0], 2), nn.accuracy(trainer.predict_logits(x_test), labels)))

    fit(model, recipe, train, val, fit_rng, log=lambda *_: None, on_epoch=on_epoch)
    return {"seed": recipe.seed, "curve": curve, "kept": nn.accuracy(model.predict_logits(x_test), labels),
            "seconds": clock[0]}


def first_time(curve, level):
    return next((s for _, s, acc in curve if acc >= level), None)


def record(model: str, runs: list[dict]) -> None:
    """Store a preset's summary over its seeds in bench/models.json, keeping the other presets'."""
    path = ROOT / "bench" / "models.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    kept = [r["kept"] for r in runs]
    firsts = {}
    for level in LEVELS:
        reached = [first_time(r["curve"], level) for r in runs]
        firsts[str(level)] = None if None in reached else round(statistics.median(reached), 1)
    results["presets"][model] = {
        "seeds": [r["seed"] for r in runs], "accuracy_mean": round(statistics.mean(kept), 4),
        "accuracy_min": round(min(kept), 4), "accuracy_max": round(max(kept), 4),
        "seconds": round(statistics.median(r["seconds"] for r in runs), 1), "first_at": firsts}
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="key=value of the train section")
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "prepared")
    ap.add_argument("--record", action="store_true", help="store the summary in bench/models.json")
    args = ap.parse_args()
    if args.record and args.overrides:
        ap.error("--record stores a preset as it is: drop --set")
    runs = []
    for seed in args.seeds:
        section = {"model": args.model, "seed": seed, **dict(parse_override(o) for o in args.overrides)}
        runs.append(run(section, args.data))
        print(json.dumps({"section": section, **runs[-1]}), flush=True)
    kept = [r["kept"] for r in runs]
    times = []
    for level in LEVELS:
        reached = [first_time(r["curve"], level) for r in runs]
        times.append("never" if None in reached else f"{statistics.median(reached):.0f} s")
    if args.record:
        record(args.model, runs)
    print(f"| {args.model} {' '.join(args.overrides)} | {100 * statistics.mean(kept):.2f} % "
          f"({100 * min(kept):.2f}-{100 * max(kept):.2f}) | {statistics.median(r['seconds'] for r in runs):.0f} s | "
          + " | ".join(times) + " |")


if __name__ == "__main__":
    main()
