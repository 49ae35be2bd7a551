"""evaluate: test-split metrics, per-class precision/recall/F1, the confusion matrix and PNG plots.

The metrics JSON holds the headline figures only (what `dvc exp show` lists); the per-class figures
go to a CSV that DVC draws as a plot.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from scratchnet import atomic, modelfile, nn, plots
from scratchnet.data.splits import load_split, model_input
from scratchnet.params.evaluate import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app
from scratchnet.scoring import confusion, per_class_scores
from scratchnet.training.live import read_curves


def evaluate(*, model_dir: Path | str, data_dir: Path | str, live_dir: Path | str, metrics_path: Path | str,
             plots_dir: Path | str, **settings) -> dict:
    """Score the trained model on the test split and write metrics, confusion data and PNGs.

    settings: the evaluate section of params.yaml (worst_images, batch_size)."""
    s = SECTION.validate(settings)
    worst_images, batch_size = s["worst_images"], s["batch_size"]
    model, manifest = modelfile.load(model_dir)
    test = load_split(Path(data_dir) / "test.npz")
    x, labels = model_input(test, manifest["input_shape"]), test["labels"]
    logits = model.predict_logits(x, batch_size)
    loss, _ = nn.softmax_cross_entropy(logits, labels)
    probs = nn.softmax(logits)
    predicted = probs.argmax(1)
    classes = manifest["classes"]
    counts = confusion(labels, predicted, len(classes))
    precision, recall, f1, support = per_class_scores(counts)
    metrics = {
        "test_accuracy": nn.accuracy(logits, labels),
        "test_loss": float(loss),
        "test_macro_f1": float(f1.mean()),
    }
    atomic.write_json(metrics_path, metrics)

    plots_dir = Path(plots_dir)
    atomic.write_text(plots_dir / "per_class.csv", "class,precision,recall,f1,support\n" + "".join(
        f"{c},{p:.6f},{r:.6f},{f:.6f},{n}\n" for c, p, r, f, n in zip(classes, precision, recall, f1, support)))
    buf = io.StringIO()
    buf.write("actual,predicted\n")
    buf.writelines(f"{classes[a]},{classes[p]}\n" for a, p in zip(labels, predicted))
    atomic.write_text(plots_dir / "confusion.csv", buf.getvalue())
    plots.confusion_png(counts, classes, plots_dir / "confusion.png")
    plots.curves_png(read_curves(live_dir), plots_dir / "curves.png")
    first = next(((layer, name) for layer in model.layers for name, role in layer.roles.items() if role == "weight"), None)
    if first is not None:  # the first layer with weights: what it learned to look for
        layer, name = first
        plots.first_layer_png(layer.params[name], tuple(model.input_shape), plots_dir / "first_layer.png")
    else:  # no weights to draw: an empty picture keeps the stage's outputs the same set
        plots.first_layer_png(np.zeros((1, 1, 1, 1), np.float32), tuple(model.input_shape), plots_dir / "first_layer.png")
    plots.per_class_png(recall, classes, plots_dir / "per_class.png")
    wrong = np.flatnonzero(predicted != labels)
    worst = wrong[np.argsort(probs[wrong, labels[wrong]], kind="stable")][:worst_images]
    plots.worst_png(test["x"][worst], [classes[i] for i in labels[worst]], [classes[i] for i in predicted[worst]],
                    probs[worst, predicted[worst]], plots_dir / "worst.png")
    return metrics


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    model_dir: Annotated[Path, typer.Option(help="Trained model folder.")] = Path("artifacts/model"),
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits.")] = Path("data/prepared"),
    live: Annotated[Path, typer.Option(help="The train stage's DVCLive folder, for the curves plot.")] = Path("artifacts/live"),
    metrics: Annotated[Path, typer.Option(help="Test metrics JSON.")] = Path("artifacts/metrics/eval.json"),
    plots_dir: Annotated[Path, typer.Option("--plots", help="Folder for confusion.csv and the PNG plots.")] = Path("artifacts/plots"),
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Score the model on the test split: accuracy, loss, per-class metrics, confusion matrix, plots."""
    def go():
        m = evaluate(model_dir=model_dir, data_dir=data, live_dir=live, metrics_path=metrics,
                     plots_dir=plots_dir, **settings(SECTION, params_file, changes))
        say(f"test accuracy {m['test_accuracy']:.4f}, loss {m['test_loss']:.4f}")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet evaluate")
