"""The model card written beside an exported model: what it is, how it was trained and checked,
and how to load it without scratchnet."""

from __future__ import annotations

MODEL_CARD = """# scratchnet model card

- **Architecture** ({n_weights:,} parameters, input {input_shape}, {n_classes} classes):
{layers}
- **Training recipe**: {recipe}
- **Data**: {dataset}; pixels scaled to [0, 1] (pixel / 255), white ink on black, images (N, 1, H, W).
- **Test metrics**: accuracy {accuracy:.4f}, loss {loss:.4f}.
- **Uncertainty**: the `uncertain` flag comes from the detector stage's `uncertainty.npz`, built apart
  from this export for digit datasets only; `detector-card.md` beside it says what it was built on, or
  why it is off (artifacts/detector/).
- **ONNX check** (opset {opset}): onnxruntime matched on {images} test images, max |p - p'| = {max_abs_diff:.2e},
  and ONNX's reference implementation on {reference_images}, max |p - p'| = {reference_max_abs_diff:.2e}
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


def render(*, model, manifest: dict, check: dict, evaluation: dict, data: str) -> str:
    """The card for `model` (a Sequential) saved with `manifest`, its ONNX `check` result, test
    `evaluation` and the `data` it was built on, in words (scratchnet.data.meta.describe)."""
    return MODEL_CARD.format(
        n_weights=model.num_parameters(), input_shape=tuple(model.input_shape), n_classes=len(manifest["classes"]),
        layers="\n".join(f"  {i}. {c}" for i, c in enumerate(manifest["architecture"])),
        recipe=manifest.get("recipe", {}), dataset=data,
        accuracy=evaluation.get("test_accuracy", float("nan")), loss=evaluation.get("test_loss", float("nan")),
        **check,
    )
