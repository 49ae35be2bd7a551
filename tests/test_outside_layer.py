"""A layer kind defined outside the package, in one class (docs/adding-a-layer.md walks through the
same steps): built from a `train.layers` spec, gradient-checked, trained, saved and loaded, and
exported to ONNX, where onnxruntime agrees with the NumPy model."""

from __future__ import annotations

import numpy as np

from scratchnet import modelfile, nn
from scratchnet.nn.gradcheck import check_layer
from scratchnet.onnx_export import infer, session, to_onnx, verify
from scratchnet.params.train import SECTION as TRAIN
from scratchnet.training.loop import fit
from scratchnet.training.resolve import build_model, resolve_recipe


class Tanh(nn.Layer):
    """tanh(x), element-wise: y (N, ...) has x's shape."""

    kind = "tanh"

    def forward(self, x, *, train):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dy):
        return dy * (1 - self.y * self.y)

    def onnx(self, x, out, prefix):
        return [("Tanh", [x], [out], {})]


LAYERS = [{"type": "flatten"}, {"type": "dense", "units": 8}, {"type": "tanh"}, {"type": "dense", "units": "classes"}]


def test_defining_the_class_registers_its_kind():
    assert nn.LAYERS["tanh"] is Tanh


def test_its_gradients_check_in_float64():
    rng = np.random.default_rng(0)
    errors = check_layer(Tanh(), rng.standard_normal((4, 7)), rng)
    assert max(errors.values()) < 1e-6, errors


def test_a_model_with_it_trains_saves_loads_and_exports(tmp_path):
    recipe = resolve_recipe(TRAIN.validate({"model": "custom", "layers": LAYERS, "epochs": 2, "batch_size": 16,
                                            "augment_shift": 0}))
    model = build_model(recipe, (1, 4, 4), 3, np.random.default_rng(1))
    assert [layer.kind for layer in model.layers] == ["flatten", "dense", "tanh", "dense"]
    rng = np.random.default_rng(2)

    def split(n):
        labels = rng.integers(0, 3, n)
        x = rng.random((n, 4, 4), dtype=np.float32) + labels[:, None, None].astype(np.float32)  # learnable
        return {"x": x / 3, "y": np.eye(3, dtype=np.float32)[labels], "labels": labels}

    train, val = split(96), split(48)
    before = {k: v.copy() for k, v in model.parameters().items()}
    history, _, _ = fit(model, recipe, train, val, np.random.default_rng(3), log=lambda *_: None)
    assert any(not np.array_equal(v, before[k]) for k, v in model.parameters().items())  # it learned
    assert history[-1]["train_loss"] < history[0]["train_loss"]

    modelfile.save(model, tmp_path / "model", classes=[0, 1, 2])
    loaded, _ = modelfile.load(tmp_path / "model")
    x = val["x"][:, None]
    np.testing.assert_array_equal(loaded.predict_logits(x), model.predict_logits(x))

    proto = to_onnx(loaded, 15)
    assert "Tanh" in [node.op_type for node in proto.graph.node]
    probabilities, _ = infer(session(proto.SerializeToString()), x)
    result = verify(probabilities, loaded, x, 1e-5)
    assert result["argmax_agreement"] == 1.0
