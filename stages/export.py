"""export: the trained model as ONNX (checked with onnx.checker, and against the NumPy model by
onnxruntime on the test split and ONNX's reference implementation on part of it), plus our own
format and a model card, in artifacts/export/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

from scratchnet import atomic, model_card, modelfile
from scratchnet.data.meta import describe
from scratchnet.data.splits import load_split, model_input
from scratchnet.errors import ExportError
from scratchnet.onnx_export import infer, reference_probabilities, session, to_onnx, verify
from scratchnet.params.export import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app


def export(*, model_dir: Path | str, data_dir: Path | str, eval_path: Path | str, out_dir: Path | str,
           metrics_path: Path | str, **settings) -> dict:
    """Export the trained model to `out_dir`; verify it on the test split; return the check result.

    settings: the export section of params.yaml (opset, tolerance, reference_images)."""
    s = SECTION.validate(settings)
    opset, tolerance = s["opset"], s["tolerance"]
    model_dir = Path(model_dir)
    model, manifest = modelfile.load(model_dir)
    test = load_split(Path(data_dir) / "test.npz")
    try:
        proto = to_onnx(model, opset)
    except ImportError as e:  # pragma: no cover
        raise ExportError(f"onnx is not installed ({e})") from None
    onnx_bytes = proto.SerializeToString()
    x_test = model_input(test, model.input_shape)
    test_probs, _ = infer(session(onnx_bytes), x_test)
    result = {"opset": opset, **verify(test_probs, model, x_test, tolerance)}
    subset = x_test[:s["reference_images"]]
    second = verify(reference_probabilities(proto, subset), model, subset, tolerance, runtime="ONNX's reference implementation")
    result.update(reference_images=second["images"], reference_max_abs_diff=second["max_abs_diff"])
    evaluation = json.loads(Path(eval_path).read_text()) if Path(eval_path).is_file() else {}
    card = model_card.render(model=model, manifest=manifest, check=result, evaluation=evaluation, data=describe(data_dir))
    with atomic.atomic_dir(out_dir) as tmp:
        (tmp / "model.onnx").write_bytes(onnx_bytes)
        for name in (modelfile.ARRAYS, modelfile.MANIFEST):
            shutil.copyfile(model_dir / name, tmp / name)
        (tmp / "model-card.md").write_text(card, encoding="utf-8")
    atomic.write_json(metrics_path, {"onnx_argmax_agreement": result["argmax_agreement"],
                                     "onnx_max_abs_diff": result["max_abs_diff"],
                                     "onnx_reference_max_abs_diff": result["reference_max_abs_diff"]})
    return result


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    model_dir: Annotated[Path, typer.Option(help="Trained model folder.")] = Path("artifacts/model"),
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits (the test split checks the export).")] = Path("data/prepared"),
    eval_metrics: Annotated[Path, typer.Option("--eval", help="Test metrics JSON, quoted in the model card.")] = Path("artifacts/metrics/eval.json"),
    out: Annotated[Path, typer.Option(help="Folder for model.onnx, model.npz, model.json and model-card.md.")] = Path("artifacts/export"),
    metrics: Annotated[Path, typer.Option(help="Export check JSON.")] = Path("artifacts/metrics/export.json"),
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Export to ONNX and check it against the NumPy model in onnxruntime and ONNX's reference implementation."""
    def go():
        r = export(model_dir=model_dir, data_dir=data, eval_path=eval_metrics, out_dir=out, metrics_path=metrics,
                   **settings(SECTION, params_file, changes))
        say(f"exported to {out}: onnxruntime agrees on {r['images']} images, max |diff| {r['max_abs_diff']:.2e}; "
            f"ONNX's reference implementation on {r['reference_images']}, max |diff| {r['reference_max_abs_diff']:.2e}")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet export")
