"""Batch normalisation: the whole model's gradients through it, its two modes, its running
statistics under shards, in the model file and in the ONNX export."""

import numpy as np
import pytest

from scratchnet import modelfile, nn
from scratchnet.errors import ExportError
from scratchnet.nn.gradcheck import numeric_grad, rel_error
from scratchnet.onnx_export import reference_probabilities, to_onnx, verify
from scratchnet.params.export import SECTION as EXPORT
from tests.support.gradients import BN_SPECS, whole_model_grads

TOL = 1e-6


@pytest.mark.parametrize("plan", ["reference", "fast"])
def test_whole_model_gradients_in_training_mode(plan):
    model, x, y, dx, grads = whole_model_grads(plan == "fast", BN_SPECS, (2, 4, 4), n=6)

    def loss():
        return nn.softmax_cross_entropy(model.forward(x, train=True), y)[0]

    redundant = {"0.b", "5.b"}  # a bias just before batchnorm is subtracted out with the mean: zero gradient
    errors = {name: rel_error(grads[name], numeric_grad(loss, p)) for name, p in model.parameters().items()
              if name not in redundant}
    for name in redundant:
        assert np.abs(grads[name]).max() < 1e-12 and np.abs(numeric_grad(loss, model.parameters()[name])).max() < 1e-8
    if plan == "reference":
        errors["x"] = rel_error(dx, numeric_grad(loss, x))
    assert {"0.W", "1.gamma", "1.beta", "5.W", "6.gamma", "6.beta", "8.W", "8.b"} <= set(errors)
    assert max(errors.values()) < TOL, errors


def test_the_fast_plan_matches_the_reference_plan_bit_for_bit():
    ref, fast = whole_model_grads(False, BN_SPECS, (2, 4, 4), n=6), whole_model_grads(True, BN_SPECS, (2, 4, 4), n=6)
    for name, g in ref[4].items():
        np.testing.assert_array_equal(fast[4][name], g, err_msg=name)
    for name, s in ref[0].state().items():
        np.testing.assert_array_equal(fast[0].state()[name], s, err_msg=name)


def test_training_normalises_by_the_batch_and_inference_by_the_running_estimates():
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm(3, momentum=0.8)
    x = (rng.standard_normal((64, 3, 5, 5)) * [[[[2.0]], [[0.5]], [[3.0]]]] + 4).astype(np.float32)
    y = layer.forward(x, train=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-3)
    m = 64 * 25
    np.testing.assert_allclose(layer.state["mean"], 0.2 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(layer.state["var"], 0.8 + 0.2 * x.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-5)
    layer.state["mean"][...], layer.state["var"][...] = [1, 2, 3], [4, 1, 0.25]
    out = layer.forward(x, train=False)
    expected = (x - np.array([1, 2, 3]).reshape(1, 3, 1, 1)) / np.sqrt(np.array([4, 1, 0.25]) + 1e-5).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert out.dtype == np.float32 and layer.state["var"].dtype == np.float32


def test_pooled_statistics_are_the_whole_batchs():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((30, 4)) * 3 + 1).astype(np.float32)
    whole, parts = nn.BatchNorm(4, momentum=0.7), nn.BatchNorm(4, momentum=0.7)
    whole.forward(x, train=True)
    stats = []
    for lo, hi in ((0, 7), (7, 19), (19, 30)):
        parts.owns_stats = False
        parts.forward(x[lo:hi], train=True)
        stats.append(parts.batch_stats)
    parts.update_running(stats)
    for name in ("mean", "var"):
        np.testing.assert_allclose(parts.state[name], whole.state[name], rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("shards", [2, 3])
def test_under_shards_the_running_statistics_are_updated_once_from_all_shards(shards):
    """Each shard normalises by its own statistics, but the running estimates pool all of them:
    the first batchnorm (whose input no other batchnorm shaped) gets the same estimates as with
    one shard, to rounding, and every replica infers with the shared estimates."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 1, 6, 6)).astype(np.float32) * 3 + 1, rng.integers(0, 3, 30)
    states = []
    for k in (1, shards):
        model = nn.build(BN_SPECS, (1, 6, 6), 3, np.random.default_rng(0))
        opt = nn.SGD(model.parameters(), model.gradients(), lr=0.0)
        with nn.Trainer(model, opt, loss=nn.softmax_cross_entropy, shards=k) as trainer:
            trainer.step(x, y)
            trainer.step(x[::-1].copy(), y[::-1].copy())
            np.testing.assert_allclose(trainer.predict_logits(x), model.predict_logits(x), rtol=1e-6)
            assert all(r.layers[1].state["mean"] is model.layers[1].state["mean"] for r in trainer.parallel.replicas.values())
        states.append(model.state())
    one, many = states
    assert set(one) == {"1.mean", "1.var", "6.mean", "6.var"}
    for name in ("1.mean", "1.var"):
        np.testing.assert_allclose(many[name], one[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert not np.allclose(many["6.mean"], 0)  # updated from the shards (their inputs differ from one shard's)


def test_model_file_keeps_the_running_statistics(tmp_path):
    model = nn.build(BN_SPECS, (1, 6, 6), 3, np.random.default_rng(0))
    model.forward(np.random.default_rng(1).standard_normal((16, 1, 6, 6)).astype(np.float32) + 2, train=True)
    modelfile.save(model, tmp_path, classes=[0, 1, 2])
    loaded, manifest = modelfile.load(tmp_path)
    assert {"1.mean", "1.var", "6.mean", "6.var"} <= set(manifest["arrays"])
    for name, s in model.state().items():
        np.testing.assert_array_equal(loaded.state()[name], s)
        assert np.any(s != (0 if name.endswith("mean") else 1))  # moved by the training batch
    x = np.random.default_rng(2).standard_normal((5, 1, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))


@pytest.mark.parametrize("specs", [BN_SPECS, [{"type": "flatten"}, {"type": "batchnorm"}, {"type": "dense", "units": 8},
                                               {"type": "batchnorm", "eps": 1e-3}, {"type": "relu"},
                                               {"type": "dense", "units": "classes"}]])
def test_onnx_export_agrees_with_onnxruntime_and_the_reference_implementation(specs):
    """At the export's default opset a BatchNormalization node means inference to every runtime;
    at opset 13 (BN-9) ONNX's reference implementation runs its training-mode update instead."""
    import onnxruntime as ort

    model = nn.build(specs, (1, 6, 6), 3, np.random.default_rng(0))
    model.forward(np.random.default_rng(1).standard_normal((32, 1, 6, 6)).astype(np.float32) * 2 + 1, train=True)
    x = np.random.default_rng(3).standard_normal((20, 1, 6, 6)).astype(np.float32)
    proto = to_onnx(model, EXPORT.fields["opset"].default)
    assert "BatchNormalization" in {node.op_type for node in proto.graph.node}
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    assert verify(session.run(["probabilities"], {"image": x})[0], model, x, 1e-5)["argmax_agreement"] == 1.0
    assert verify(reference_probabilities(proto, x), model, x, 1e-5)["max_abs_diff"] < 1e-5
    with pytest.raises(ExportError, match="reference implementation disagrees"):
        verify(reference_probabilities(to_onnx(model, 13), x), model, x, 1e-5, runtime="ONNX's reference implementation")


@pytest.mark.parametrize("spec, message", [
    ({"type": "batchnorm", "momentum": 1}, "momentum: expected a number in [0, 1)"),
    ({"type": "batchnorm", "eps": 0}, "eps: expected a number in (0, 1]"),
    ({"type": "batchnorm", "scale": 2}, "scale: unknown key for batchnorm"),
])
def test_bad_batchnorm_specs_are_named(spec, message):
    with pytest.raises(nn.SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        nn.build([{"type": "flatten"}, spec, {"type": "dense", "units": "classes"}], (1, 4, 4), 3, np.random.default_rng(0))


def test_a_last_batch_too_small_for_statistics_joins_the_one_before():
    from scratchnet.training.loop import train_epoch

    sizes = []

    class Recorder:
        def step(self, xb, yb):
            sizes.append(len(xb))
            return 0.0, np.zeros((len(xb), 3), np.float32)

    from scratchnet.training.presets import PRESETS

    recipe = PRESETS["mlp"].replace(batch_size=16, shards=2, layers=BN_SPECS, epochs=1, augment_shift=0)
    x, y = np.zeros((35, 1, 6, 6), np.float32), np.eye(3, dtype=np.float32)[np.zeros(35, int)]
    train_epoch(Recorder(), recipe, x, y, np.arange(35), np.random.default_rng(0), 1)
    assert sizes == [16, 19]  # 16, 16, 3 would leave a 1-image slice on one of the 2 shards
    sizes.clear()
    train_epoch(Recorder(), recipe.replace(layers=[{"type": "flatten"}, {"type": "dense", "units": "classes"}]),
                x, y, np.arange(35), np.random.default_rng(0), 1)
    assert sizes == [16, 16, 3]  # without batchnorm, batches are as they always were


def test_a_built_copy_does_not_share_running_statistics():
    model = nn.build(BN_SPECS, (1, 6, 6), 3, np.random.default_rng(0))
    copy = nn.build(BN_SPECS, (1, 6, 6), 3, np.random.default_rng(0), weights=model.arrays())
    copy.forward(np.ones((4, 1, 6, 6), np.float32), train=True)
    assert np.all(model.state()["1.mean"] == 0) and np.any(copy.state()["1.mean"] != 0)


def test_the_kept_model_has_the_running_statistics_of_its_best_epoch():
    from scratchnet.params.train import SECTION as TRAIN
    from scratchnet.training.loop import fit
    from scratchnet.training.resolve import build_model, resolve_recipe

    rng = np.random.default_rng(0)
    def split(n):
        labels = rng.integers(0, 3, n)
        return {"x": rng.random((n, 6, 6), dtype=np.float32), "y": np.eye(3, dtype=np.float32)[labels], "labels": labels}
    train, val = split(96), split(60)  # random labels: validation accuracy wanders, so the best epoch is not the last
    layers = [{"type": "flatten"}, {"type": "dense", "units": 16}, {"type": "batchnorm"}, {"type": "relu"},
              {"type": "dense", "units": "classes"}]
    recipe = resolve_recipe(TRAIN.validate({"model": "custom", "layers": layers, "epochs": 8, "batch_size": 16,
                                                 "augment_shift": 0}))
    model = build_model(recipe, (1, 6, 6), 3, np.random.default_rng(1))
    seen = {}
    history, best, _ = fit(model, recipe, train, val, np.random.default_rng(2), log=lambda *_: None,
                           on_epoch=lambda row, s, trainer: seen.update({row["epoch"]: {k: v.copy() for k, v in model.arrays().items()}}))
    assert best != len(history)
    for name, value in model.arrays().items():
        np.testing.assert_array_equal(value, seen[best][name], err_msg=name)
    assert not np.array_equal(seen[best]["2.var"], seen[len(history)]["2.var"])
