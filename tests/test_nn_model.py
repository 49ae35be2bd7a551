import json
import zipfile

import numpy as np
import pytest

from scratchnet import modelfile, nn
from scratchnet.errors import ModelFormatError
from scratchnet.training.loop import fit
from scratchnet.training.presets import PRESETS
from tests.support.data import RECIPE, SMALL_CNN, random_problem


def train_small(seed=0):
    data = random_problem()
    model = nn.build(SMALL_CNN, (1, 8, 8), 4, np.random.default_rng(seed))
    history, _, _ = fit(model, RECIPE, data, data, np.random.default_rng(seed), log=lambda *_: None)
    return model, history, data


def test_overfits_32_samples_and_is_bit_reproducible():
    model, history, data = train_small()
    assert nn.accuracy(model.forward(data["x"][:, None]), data["labels"]) == 1.0
    again, history2, _ = train_small()
    for (k, a), b in zip(model.parameters().items(), again.parameters().values()):
        assert a.tobytes() == b.tobytes(), k
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]
    assert strip(history) == strip(history2)
    other, _, _ = train_small(seed=1)
    assert model.parameters()["0.W"].tobytes() != other.parameters()["0.W"].tobytes()


def test_build_checks_shapes():
    with pytest.raises(nn.SpecError, match="flatten"):
        nn.build([{"type": "dense", "units": 3}], (1, 4, 4), 3, np.random.default_rng(0))
    with pytest.raises(nn.SpecError, match="outputs \\(5,\\)"):
        nn.build([{"type": "flatten"}, {"type": "dense", "units": 5}], (1, 4, 4), 3, np.random.default_rng(0))
    with pytest.raises(nn.SpecError, match="does not fit"):
        nn.build([{"type": "conv2d", "filters": 2, "kernel": 7}], (1, 4, 4), 3, np.random.default_rng(0))
    with pytest.raises(nn.SpecError, match="allowed"):
        nn.build([{"type": "lstm"}], (1, 4, 4), 3, np.random.default_rng(0))
    with pytest.raises(nn.SpecError, match="unknown key"):
        nn.build([{"type": "relu", "units": 3}], (1, 4, 4), 3, np.random.default_rng(0))


def test_input_shape_is_inferred():
    for size, classes in (((1, 8, 8), 10), ((1, 28, 28), 10), ((1, 12, 9), 3)):
        model = nn.build(PRESETS["cnn"].layers if size[1] >= 12 else SMALL_CNN, size, classes, np.random.default_rng(0))
        assert model.forward(np.zeros((2, *size), np.float32)).shape == (2, classes)


def test_he_and_xavier_fans_for_conv():
    rng = np.random.default_rng(0)
    w = nn.init.initialise("he_normal", (64, 32, 3, 3), rng)
    assert w.std() == pytest.approx(np.sqrt(2 / (32 * 9)), rel=0.02)
    w = nn.init.initialise("xavier_uniform", (64, 32, 3, 3), rng)
    assert np.abs(w).max() <= np.sqrt(6 / (32 * 9 + 64 * 9))
    assert w.std() == pytest.approx(np.sqrt(2 / (32 * 9 + 64 * 9)), rel=0.02)


@pytest.fixture
def saved(tmp_path):
    model, _, data = train_small()
    modelfile.save(model, tmp_path / "m", classes=[0, 1, 2, 3])
    return model, data, tmp_path / "m"


def test_save_load_predict_identical(saved):
    model, data, folder = saved
    loaded, manifest = modelfile.load(folder)
    assert manifest["format_version"] == 1 and manifest["input_shape"] == [1, 8, 8]
    x = data["x"][:, None]
    assert model.forward(x).tobytes() == loaded.forward(x).tobytes()


def _rewrite(folder, **arrays):
    path = folder / "model.npz"
    with np.load(path) as z:
        current = dict(z)
    current.update(arrays)
    for k in [k for k, v in arrays.items() if v is None]:
        del current[k]
    np.savez(path, **current)


def test_missing_array_refused(saved):
    _, _, folder = saved
    _rewrite(folder, **{"0.b": None})
    with pytest.raises(ModelFormatError, match="missing \\['0.b'\\]"):
        modelfile.load(folder)


def test_shape_mismatch_refused(saved):
    _, _, folder = saved
    _rewrite(folder, **{"0.W": np.zeros((4, 1, 5, 5), np.float32)})
    with pytest.raises(ModelFormatError, match="0.W"):
        modelfile.load(folder)


def test_manifest_architecture_mismatch_refused(saved):
    _, _, folder = saved
    manifest = json.loads((folder / "model.json").read_text())
    manifest["architecture"][0]["filters"] = 5
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="parameter W should be \\(5, 1, 3, 3\\), the arrays hold \\(4, 1, 3, 3\\)"):
        modelfile.load(folder)


def test_newer_format_refused(saved):
    _, _, folder = saved
    manifest = json.loads((folder / "model.json").read_text())
    manifest["format_version"] = 99
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="format version 99"):
        modelfile.load(folder)


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle executed')",))


def test_pickled_object_refused_not_executed(saved):
    _, _, folder = saved
    _rewrite(folder, **{"0.W": np.array([Boom()], dtype=object)})
    with pytest.raises(ModelFormatError, match="pickle"):
        modelfile.load(folder)


def test_hostile_manifest_allocates_nothing(saved):
    _, _, folder = saved
    manifest = json.loads((folder / "model.json").read_text())
    manifest["input_shape"] = [1, 60000, 60000]
    manifest["architecture"] = [{"type": "flatten"}, {"type": "dense", "units": 4}]
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="should be \\(3600000000, 4\\)"):
        modelfile.load(folder)
    manifest["input_shape"] = [1, 10 ** 7, 1]
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="input_shape"):
        modelfile.load(folder)
    manifest["input_shape"] = [1, 8, 8]
    manifest["architecture"] = [{"type": "flatten"}, {"type": "dense", "units": 10 ** 9}]
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFormatError, match="should be \\(64, 1000000000\\)"):
        modelfile.load(folder)


def test_truncated_file_refused(saved):
    _, _, folder = saved
    data = (folder / "model.npz").read_bytes()
    (folder / "model.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match="not a readable"):
        modelfile.load(folder)


def test_saved_bytes_are_deterministic(saved, tmp_path):
    model, _, folder = saved
    modelfile.save(model, tmp_path / "again", classes=[0, 1, 2, 3])
    assert (folder / "model.npz").read_bytes() == (tmp_path / "again" / "model.npz").read_bytes()
    assert zipfile.ZipFile(folder / "model.npz").namelist()[0].endswith(".npy")


def test_backward_stops_at_the_first_trainable_layer():
    mlp = nn.build(PRESETS["mlp"].layers, (1, 28, 28), 10, np.random.default_rng(0))
    assert mlp.plan.first == 1 and not mlp.layers[1].input_grad and mlp.layers[3].input_grad
    logits = mlp.forward(np.zeros((2, 1, 28, 28), np.float32), train=True)
    mlp.backward(np.ones_like(logits))  # the flatten in front is never asked for a gradient
    assert all(np.isfinite(g).all() for g in mlp.gradients().values())


def test_a_trainer_refuses_an_optimizer_bound_to_another_model():
    a = nn.build(SMALL_CNN, (1, 8, 8), 4, np.random.default_rng(0))
    b = nn.build(SMALL_CNN, (1, 8, 8), 4, np.random.default_rng(0))
    opt = nn.SGD(b.parameters(), b.gradients(), lr=0.1)
    with pytest.raises(ValueError, match="other arrays"):
        nn.Trainer(a, opt, loss=nn.softmax_cross_entropy)


def test_optimizer_state_dict_is_a_snapshot():
    model = nn.build(SMALL_CNN, (1, 8, 8), 4, np.random.default_rng(0))
    opt = nn.Adam(model.parameters(), model.gradients(), lr=0.01)
    model.gradients().flat[...] = 1
    opt.step()
    saved = opt.state_dict()
    before = {k: v.copy() for k, v in saved.items()}
    opt.step()
    assert all(np.array_equal(saved[k], before[k]) for k in saved)


def test_a_model_ending_in_relu_leaves_the_callers_gradient_alone():
    model = nn.build([{"type": "flatten"}, {"type": "dense", "units": "classes"}, {"type": "relu"}],
                     (1, 2, 2), 3, np.random.default_rng(0))
    model.forward(np.random.default_rng(1).standard_normal((5, 1, 2, 2)).astype(np.float32), train=True)
    dy = np.ones((5, 3), np.float32)
    model.backward(dy)
    assert (dy == 1).all()


def test_inference_runs_a_large_batch_in_chunks_with_the_same_outputs(monkeypatch):
    """A batch whose working set passes INFERENCE_CHUNK_BYTES goes through in chunks, in order."""
    model = nn.build(SMALL_CNN, (1, 8, 8), 4, np.random.default_rng(0)).compile()
    x = np.random.default_rng(1).standard_normal((10, 1, 8, 8)).astype(np.float32)
    one_by_one = np.concatenate([model.forward(x[i:i + 1]) for i in range(10)])
    seen = []
    run = model._run
    monkeypatch.setattr(model, "_run", lambda batch, **kw: seen.append(len(batch)) or run(batch, **kw))
    monkeypatch.setattr(nn.model, "INFERENCE_CHUNK_BYTES", 3 * 4 * model.footprint((1, 8, 8)))
    monkeypatch.setattr(nn.model, "INFERENCE_MIN_CHUNK", 1)
    np.testing.assert_allclose(model.forward(x), one_by_one, rtol=1e-5, atol=1e-6)
    assert seen == [3, 3, 3, 1]
    seen.clear()
    monkeypatch.setattr(nn.model, "INFERENCE_MIN_CHUNK", 4)  # however little fits, never under the floor
    np.testing.assert_allclose(model.forward(x), one_by_one, rtol=1e-5, atol=1e-6)
    assert seen == [4, 4, 2]
    seen.clear()
    model.forward(x, train=True)  # training keeps the batch whole: batchnorm needs its statistics
    assert seen == [10]


def test_a_max_pool_does_not_keep_its_input_alive():
    """Its window stack holds the values backward needs; keeping the input too would hold the
    conv output before it (6 MiB per `cnn` shard) until the next step."""
    import weakref

    pool = nn.MaxPool2D(2)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    alive = weakref.ref(x)
    pool.forward(x, train=True)
    del x
    assert alive() is None
    assert pool.backward(np.ones((2, 3, 2, 2), np.float32)).shape == (2, 3, 4, 4)


@pytest.mark.parametrize("spec", [{"type": ["dense"]}, {"type": {"dense": 1}}, {"type": None}])
def test_a_spec_whose_type_is_no_name_is_a_spec_error(spec):
    with pytest.raises(nn.SpecError, match=r"layers\[0\] .*type: got"):
        nn.build([spec, {"type": "dense", "units": "classes"}], (4,), 3, np.random.default_rng(0))
