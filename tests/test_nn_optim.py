"""Each optimizer's first two steps and each schedule, against values worked out by hand."""

import math

import numpy as np
import pytest

from scratchnet import nn


def two_steps(make, g1=0.5, g2=-1.0, p0=1.0):
    """make(params, grads) -> an optimizer bound to them; the parameter after each of two steps."""
    p, g = {"0.W": np.array([p0])}, {"0.W": np.zeros(1)}
    opt = make(p, g)
    out = []
    for value in (g1, g2):
        g["0.W"][0] = value
        opt.step()
        out.append(float(p["0.W"][0]))
    return out


def test_sgd():
    # p1 = 1 - 0.1 * 0.5 = 0.95; p2 = 0.95 - 0.1 * (-1) = 1.05
    assert two_steps(lambda p, g: nn.SGD(p, g, lr=0.1)) == pytest.approx([0.95, 1.05])


def test_momentum():
    # v1 = 0.5, p1 = 1 - 0.05 = 0.95; v2 = 0.9 * 0.5 - 1 = -0.55, p2 = 0.95 + 0.055 = 1.005
    assert two_steps(lambda p, g: nn.SGD(p, g, lr=0.1, momentum=0.9)) == pytest.approx([0.95, 1.005])


def test_nesterov():
    # v1 = 0.5, p1 = 1 - 0.1 * (0.5 + 0.45) = 0.905
    # v2 = -0.55, p2 = 0.905 - 0.1 * (-1 + 0.9 * -0.55) = 0.905 + 0.1495 = 1.0545
    assert two_steps(lambda p, g: nn.SGD(p, g, lr=0.1, momentum=0.9, nesterov=True)) == pytest.approx([0.905, 1.0545])


def test_adam():
    # step 1: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25, p1 = 1 - 0.1 * 0.5 / 0.5 = 0.9
    # step 2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001 = 0.00124975
    #   m_hat = -0.055 / 0.19 = -0.2894737, v_hat = 0.00124975 / 0.001999 = 0.6251876
    #   p2 = 0.9 + 0.1 * 0.2894737 / 0.7906883 = 0.9 + 0.1 * 0.3661034 = 0.9366103
    assert two_steps(lambda p, g: nn.Adam(p, g, lr=0.1)) == pytest.approx([0.9, 0.9366103], abs=1e-7)


def test_weight_decay_on_the_parameters_named_in_decay():
    p = {"0.W": np.array([2.0]), "0.b": np.array([2.0])}
    nn.SGD(p, {"0.W": np.array([0.0]), "0.b": np.array([0.0])}, lr=0.1, weight_decay=0.5, decay={"0.W"}).step()
    assert p["0.W"][0] == pytest.approx(2 - 0.1 * 0.5 * 2) and p["0.b"][0] == 2.0
    with pytest.raises(ValueError, match="not here"):
        nn.SGD(p, p, lr=0.1, decay={"9.W"})
    with pytest.raises(ValueError, match="weight_decay needs `decay`"):  # never a guess from names
        nn.SGD(p, p, lr=0.1, weight_decay=0.5)


def test_a_model_decays_the_weight_role_not_names():
    specs = [{"type": "conv2d", "filters": 2}, {"type": "batchnorm"}, {"type": "flatten"},
             {"type": "dense", "units": "classes"}]
    model = nn.build(specs, (1, 5, 5), 3, np.random.default_rng(0))
    assert model.decayed() == {"0.W", "3.W"}  # not the biases, not batchnorm's gamma and beta
    params = model.parameters()
    before = {k: v.copy() for k, v in params.items()}
    model.gradients().flat[...] = 0
    nn.SGD(params, model.gradients(), lr=0.1, weight_decay=0.5, decay=model.decayed()).step()
    for k, v in params.items():
        assert np.array_equal(v, before[k]) == (k not in model.decayed()), k


def test_state_is_keyed_by_parameter_and_round_trips():
    p = {"0.W": np.ones(2), "2.W": np.ones(2)}
    g = {"0.W": np.array([1.0, 1.0]), "2.W": np.array([-1.0, 0.0])}
    opt = nn.Adam(p, g, lr=0.01)
    opt.step()
    assert set(opt.state) == {"0.W.m", "0.W.v", "2.W.m", "2.W.v"}
    assert not np.shares_memory(opt.state["0.W.m"], opt.state["2.W.m"])
    q = {k: v.copy() for k, v in p.items()}
    clone = nn.Adam(q, g, lr=0.01)
    clone.load_state_dict(opt.state_dict())
    g["0.W"][...], g["2.W"][...] = [0.3, -0.2], [0.1, 0.1]
    opt.step()
    clone.step()
    for k in p:
        np.testing.assert_array_equal(p[k], q[k])


def test_float32_parameters_stay_float32():
    for make in (lambda p, g: nn.SGD(p, g, lr=0.1, momentum=0.9, weight_decay=1e-4, decay=p),
                 lambda p, g: nn.Adam(p, g, lr=1e-3, weight_decay=1e-4, decay=p)):
        p = {"0.W": np.ones(3, np.float32)}
        make(p, {"0.W": np.ones(3, np.float32)}).step()
        assert p["0.W"].dtype == np.float32


def test_schedules():
    exp = nn.schedule("exponential", 0.01, epochs=10, decay=0.95)
    assert [exp(e) for e in range(3)] == pytest.approx([0.01, 0.0095, 0.009025])
    step = nn.schedule("step", 0.1, epochs=10, decay=0.5, step_size=2)
    assert [step(e) for e in range(5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    cos = nn.schedule("cosine", 0.2, epochs=4)
    assert [cos(e) for e in range(5)] == pytest.approx([0.2, 0.2 * (1 + math.sqrt(0.5)) / 2, 0.1, 0.2 * (1 - math.sqrt(0.5)) / 2, 0.0])
    assert nn.schedule("constant", 0.3, epochs=4)(3) == 0.3


def test_clipping():
    g = {"a": np.array([3.0, -20.0]), "b": np.array([0.5])}
    nn.clip_values(g, 5.0)
    assert g["a"].tolist() == [3.0, -5.0]
    g = {"a": np.array([3.0]), "b": np.array([4.0])}
    assert nn.clip_global_norm(g, 1.0) == pytest.approx(5.0)
    assert [g["a"][0], g["b"][0]] == pytest.approx([0.6, 0.8])
    g = {"a": np.array([0.3])}
    nn.clip_global_norm(g, 1.0)
    assert g["a"][0] == 0.3


OPTIMIZERS = {
    "sgd": lambda p, g, d: nn.SGD(p, g, lr=0.1, weight_decay=0.01, decay=d),
    "momentum": lambda p, g, d: nn.SGD(p, g, lr=0.1, momentum=0.9, weight_decay=0.01, decay=d),
    "nesterov": lambda p, g, d: nn.SGD(p, g, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, decay=d),
    "adam": lambda p, g, d: nn.Adam(p, g, lr=0.01, weight_decay=0.01, decay=d),
}


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_flat_buffers_update_exactly_like_one_array_at_a_time(kind):
    """A model's FlatDicts take the one-call-per-operation path; it must match the per-array path
    bit for bit, keep its state keyed by name, and round-trip through state_dict either way."""
    specs = [{"type": "flatten"}, {"type": "dense", "units": 5}, {"type": "relu"}, {"type": "dense", "units": "classes"}]
    model = nn.build(specs, (1, 2, 3), 3, np.random.default_rng(0))
    params, grads = model.parameters(), model.gradients()
    assert params.flat.size == sum(p.size for p in params.values())
    assert all(np.shares_memory(p, params.flat) for p in params.values())
    plain, plain_grads = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in grads.items()}
    decay = model.decayed()
    flat_opt, plain_opt = OPTIMIZERS[kind](params, grads, decay), OPTIMIZERS[kind](plain, plain_grads, decay)
    assert flat_opt._flat is not None and plain_opt._flat is None  # the two paths under test
    rng = np.random.default_rng(1)
    for step in range(3):
        grads.flat[...] = rng.standard_normal(grads.flat.size)
        for k, v in grads.items():
            plain_grads[k][...] = v
        flat_opt.step()
        plain_opt.step()
        if step == 1:  # continue the flat run from a state saved by name
            flat_opt = OPTIMIZERS[kind](params, grads, decay)
            flat_opt.load_state_dict(plain_opt.state_dict())
    for k in params:
        np.testing.assert_array_equal(params[k], plain[k], err_msg=k)
    assert flat_opt.state.keys() == plain_opt.state.keys()
    for k, v in flat_opt.state.items():
        np.testing.assert_array_equal(v, plain_opt.state[k], err_msg=k)


def test_an_optimizer_refuses_grads_that_do_not_match_its_params():
    with pytest.raises(ValueError, match="same keys"):
        nn.SGD({"0.W": np.ones(2)}, {"1.W": np.ones(2)}, lr=0.1)
