"""export: the trained model as ONNX (checked with onnx.checker and onnxruntime), plus our own format
and a model card, in artifacts/export/.

ONNX graph: input `image` float32 (N, 1, H, W) in [0, 1]; outputs `probabilities` (N, classes) and
`features` (N, D), the input of the last dense layer, which the uncertainty check measures.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from . import atomic, modelfile, nn, uncertainty
from . import params as P
from .errors import ExportError
from .preprocess import load_split, model_input


def to_onnx(model: nn.Sequential, opset: int):
    """Translate a Sequential into an onnx.ModelProto."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "image"
    features, n_features = None, 0  # the input of the last dense layer: the penultimate features
    for i, (spec, weights) in enumerate(model.spec_and_weights()):
        kind, out = spec["type"], f"l{i}_{spec['type']}"
        inits.extend(numpy_helper.from_array(v.astype(np.float32), f"{i}.{k}") for k, v in weights.items())
        if kind == "dense":
            nodes.append(helper.make_node("Gemm", [x, f"{i}.W", f"{i}.b"], [out]))
            features, n_features = x, int(weights["W"].shape[0])
        elif kind == "conv2d":
            nodes.append(helper.make_node("Conv", [x, f"{i}.W", f"{i}.b"], [out], kernel_shape=[spec["kernel"]] * 2,
                                          strides=[spec["stride"]] * 2, pads=[spec["padding"]] * 4))
        elif kind == "maxpool2d":
            nodes.append(helper.make_node("MaxPool", [x], [out], kernel_shape=[spec["size"]] * 2,
                                          strides=[spec["stride"]] * 2))
        elif kind == "batchnorm":
            nodes.append(helper.make_node("BatchNormalization", [x, f"{i}.gamma", f"{i}.beta", f"{i}.mean", f"{i}.var"],
                                          [out], epsilon=spec["eps"]))
        elif kind == "flatten":
            nodes.append(helper.make_node("Flatten", [x], [out], axis=1))
        elif kind in ("relu", "sigmoid", "softmax"):
            op = {"relu": "Relu", "sigmoid": "Sigmoid", "softmax": "Softmax"}[kind]
            nodes.append(helper.make_node(op, [x], [out], **({"axis": -1} if op == "Softmax" else {})))
        elif kind == "dropout":
            continue  # identity at inference
        else:
            raise ExportError(f"no ONNX translation for layer {kind}")
        x = out
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1))
    if features is None:
        raise ExportError("the model has no dense layer, so no penultimate features to export")
    nodes.append(helper.make_node("Identity", [features], ["features"]))
    n_classes = model.output_shape()[0]
    graph = helper.make_graph(
        nodes, "scratchnet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", *model.input_shape])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        inits,
    )
    proto = helper.make_model(graph, producer_name="scratchnet", opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = min(proto.ir_version, 8)  # readable by older onnxruntime releases too
    onnx.checker.check_model(proto, full_check=True)
    return proto


def verify(theirs: np.ndarray, model: nn.Sequential, x: np.ndarray, tolerance: float) -> dict:
    """Compare onnxruntime's probabilities `theirs` for x (N, 1, H, W) with the NumPy model's:
    argmax agreement and max |diff|."""
    ours = nn.softmax(model.predict_logits(x))
    result = {"images": len(x), "argmax_agreement": nn.accuracy(ours, theirs.argmax(1)),
              "max_abs_diff": float(np.abs(ours - theirs).max()), "tolerance": tolerance}
    if result["argmax_agreement"] < 1 or result["max_abs_diff"] > tolerance:
        raise ExportError(f"onnxruntime disagrees with the NumPy model: {result}")
    return result


def calibrate_uncertainty(session, data_dir: Path, negatives_path: Path, input_shape) -> dict[str, np.ndarray]:
    """The `uncertain` rule's arrays, from the training and validation splits and the drawn
    non-digits (see uncertainty.py)."""
    train, val = load_split(data_dir / "train.npz"), load_split(data_dir / "val.npz")
    if not len(val["x"]):
        val = train  # no held-back split: calibrate on training digits (the README says so)
    again = "run `scratchnet negatives` or `dvc repro negatives`"
    if not negatives_path.is_file():
        raise ExportError(f"{negatives_path}: not found ({again} first)")
    try:
        with np.load(negatives_path, allow_pickle=False) as z:
            negatives = z["x"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise ExportError(f"{negatives_path}: cannot read the non-digits ({e}); {again}") from None
    if negatives.shape[1:] != tuple(input_shape[1:]):
        raise ExportError(f"{negatives_path}: images {negatives.shape[1:]} but the model reads "
                          f"{tuple(input_shape[1:])}; {again}")
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(train["x"]), min(uncertainty.POSITIVES, len(train["x"])), replace=False))
    _, digits = uncertainty.infer(session, model_input({"x": train["x"][pick]}, input_shape))
    _, others = uncertainty.infer(session, model_input({"x": negatives.astype(np.float32) / 255}, input_shape))
    _, val_features = uncertainty.infer(session, model_input(val, input_shape))
    return uncertainty.calibrate(digits, others, val_features, rng)


MODEL_CARD = """# scratchnet model card

- **Architecture** ({n_weights:,} parameters, input {input_shape}, {n_classes} classes):
{layers}
- **Training recipe**: {recipe}
- **Data**: {dataset}; pixels scaled to [0, 1] (pixel / 255), white ink on black, images (N, 1, H, W).
- **Test metrics**: accuracy {accuracy:.4f}, loss {loss:.4f}.
- **Uncertainty**: `scratchnet predict` flags {uncertain_test_rate:.2%} of the test digits as uncertain
  (calibrated to flag 1 % of the validation digits; see stages/uncertainty.py).
- **ONNX check** (opset {opset}): onnxruntime matched on {images} test images, max |p - p'| = {max_abs_diff:.2e}
  (tolerance {tolerance:.0e}).

## Load it without scratchnet

With onnxruntime:

```python
import numpy as np, onnxruntime as ort
session = ort.InferenceSession("model.onnx")
probabilities = session.run(["probabilities"], {{"image": images.astype(np.float32)}})[0]
```

With NumPy alone, `model.npz` holds each layer's arrays by qualified name (`"1.W"` is the weight of
layer 1: dense weights are (in, out), conv weights (out, in, kh, kw)), and `model.json` lists the
layers in order:

```python
import json, numpy as np
arch = json.load(open("model.json"))["architecture"]
weights = np.load("model.npz", allow_pickle=False)
```
"""


def export(*, model_dir: Path | str, data_dir: Path | str, negatives_path: Path | str, eval_path: Path | str,
           out_dir: Path | str, metrics_path: Path | str, **settings) -> dict:
    """Export the trained model to `out_dir`; verify it on the test split; return the check result.

    settings: the export section of params.yaml (opset, tolerance)."""
    s = P.validate("export", settings)
    opset, tolerance = s["opset"], s["tolerance"]
    model_dir = Path(model_dir)
    model, manifest = modelfile.load(model_dir)
    test = load_split(Path(data_dir) / "test.npz")
    try:
        proto = to_onnx(model, opset)
    except ImportError as e:  # pragma: no cover
        raise ExportError(f"onnx is not installed ({e})") from None
    onnx_bytes = proto.SerializeToString()
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    x_test = model_input(test, model.input_shape)
    test_probs, test_features = uncertainty.infer(session, x_test)  # one onnxruntime pass serves both checks
    result = {"opset": opset, **verify(test_probs, model, x_test, tolerance)}
    cal = calibrate_uncertainty(session, Path(data_dir), Path(negatives_path), model.input_shape)
    result["uncertain_test_rate"] = float(uncertainty.flags(test_features, cal).mean())
    evaluation = json.loads(Path(eval_path).read_text()) if Path(eval_path).is_file() else {}
    card = MODEL_CARD.format(
        n_weights=model.num_parameters(), input_shape=tuple(model.input_shape), n_classes=len(manifest["classes"]),
        layers="\n".join(f"  {i}. {c}" for i, c in enumerate(manifest["architecture"])),
        recipe=manifest.get("recipe", {}), dataset=f"{len(test['x'])} test images of {test['x'].shape[1:]}",
        accuracy=evaluation.get("test_accuracy", float("nan")), loss=evaluation.get("test_loss", float("nan")),
        **result,
    )
    with atomic.atomic_dir(out_dir) as tmp:
        (tmp / "model.onnx").write_bytes(onnx_bytes)
        for name in (modelfile.ARRAYS, modelfile.MANIFEST):
            shutil.copyfile(model_dir / name, tmp / name)
        (tmp / "model-card.md").write_text(card, encoding="utf-8")
        atomic.write_npz(tmp / uncertainty.FILE, **cal)
    atomic.write_json(metrics_path, {"onnx_argmax_agreement": result["argmax_agreement"],
                                     "onnx_max_abs_diff": result["max_abs_diff"],
                                     "uncertain_test_rate": result["uncertain_test_rate"]})
    return result
