"""The export section of params.yaml: the ONNX translation and its check."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("export", {
    "opset": Field(int, 13, "ONNX opset", low=13, high=21),
    "tolerance": Field(float, 1e-5, "max |p_numpy - p_onnxruntime| accepted on the test split",
                       low=0.0, low_open=True),
})
