"""The export section of params.yaml: the ONNX translation and its check."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("export", {
    "opset": Field(int, 15, "ONNX opset; from 15 a BatchNormalization node is inference for every runtime "
                   "(at 13, BN-9, ONNX's reference implementation applies a training-mode update)", low=15, high=21),
    "tolerance": Field(float, 1e-5, "max |p_numpy - p_runtime| accepted, for onnxruntime on the test split and "
                       "ONNX's reference implementation on its first reference_images", low=0.0, low_open=True),
    "reference_images": Field(int, 200, "test images ONNX's reference implementation (a second runtime, slow on a "
                              "CNN) also runs; 0: none", low=0),
})
