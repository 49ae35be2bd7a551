"""A Sequential as an ONNX graph, checked with onnx.checker, and compared with onnxruntime's answers.

ONNX graph: input `image` float32 (N, 1, H, W) in [0, 1]; outputs `probabilities` (N, classes) and
`features` (N, D), the input of the last dense layer, which the uncertainty check measures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import nn
from .errors import ExportError


def to_onnx(model: nn.Sequential, opset: int):
    """Translate a Sequential into an onnx.ModelProto: each layer's own ONNX nodes (Layer.onnx),
    its arrays as initialisers, a softmax for the probabilities and the features beside them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "image"
    features, n_features = None, 0  # the input of the last dense layer: the penultimate features
    for i, layer in enumerate(model.layers):
        prefix, out = f"{i}.", f"l{i}_{layer.kind}"
        weights = {**layer.params, **layer.state}
        inits.extend(numpy_helper.from_array(v.astype(np.float32), f"{prefix}{k}") for k, v in weights.items())
        try:
            described = layer.onnx(x, out, prefix)
        except NotImplementedError as e:
            raise ExportError(str(e)) from None
        if not described:
            continue  # an identity at inference (dropout)
        if layer.kind == "dense":
            features, n_features = x, int(weights["W"].shape[0])
        nodes.extend(helper.make_node(op, inputs, outputs, **attributes) for op, inputs, outputs, attributes in described)
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


def verify(theirs: np.ndarray, model: nn.Sequential, x: np.ndarray, tolerance: float,
           runtime: str = "onnxruntime") -> dict:
    """Compare a runtime's probabilities `theirs` for x (N, 1, H, W) with the NumPy model's:
    argmax agreement and max |diff|."""
    ours = nn.softmax(model.predict_logits(x))
    result = {"images": len(x), "argmax_agreement": nn.accuracy(ours, theirs.argmax(1)) if len(x) else 1.0,
              "max_abs_diff": float(np.abs(ours - theirs).max()) if len(x) else 0.0, "tolerance": tolerance}
    if result["argmax_agreement"] < 1 or result["max_abs_diff"] > tolerance:
        raise ExportError(f"{runtime} disagrees with the NumPy model: {result}")
    return result


def reference_probabilities(proto, x: np.ndarray) -> np.ndarray:
    """(N, K) probabilities of ONNX's own reference implementation for x (N, 1, H, W): a second
    runtime, written from the operator specifications rather than for speed."""
    from onnx.reference import ReferenceEvaluator

    if not len(x):
        return np.zeros((0, proto.graph.output[0].type.tensor_type.shape.dim[1].dim_value), np.float32)
    return ReferenceEvaluator(proto).run(["probabilities"], {"image": x})[0]


def session(model: bytes | str | Path):
    """An onnxruntime session (CPU) for an ONNX model given as bytes or a file path."""
    import onnxruntime as ort

    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), providers=["CPUExecutionProvider"])


def infer(sess, x: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N, K), features (N, D)) of the exported ONNX model for x (N, 1, H, W)."""
    if not len(x):
        outs = sess.get_outputs()
        return np.zeros((0, outs[0].shape[1]), np.float32), np.zeros((0, outs[1].shape[1]), np.float32)
    both = [sess.run(["probabilities", "features"], {"image": x[i:i + batch_size]})
            for i in range(0, len(x), batch_size)]
    return np.concatenate([b[0] for b in both]), np.concatenate([b[1] for b in both])
