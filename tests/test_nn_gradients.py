"""Numerical gradient checks (central differences, float64, tiny shapes): relative error < 1e-6."""

import numpy as np
import pytest

from scratchnet import nn
from scratchnet.nn.gradcheck import check_layer, numeric_grad, rel_error
from tests.support.gradients import CASES, CNN_SPECS, TRAIN_MODE, float32_case, whole_model_grads

TOL = 1e-6


@pytest.mark.parametrize("name", list(CASES))
def test_layer_gradients(name):
    rng = np.random.default_rng(42)
    layer, x = CASES[name](rng)
    errors = check_layer(layer, x, rng, train=name in TRAIN_MODE)
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < TOL, errors


def test_dropout_gradient_uses_the_forward_mask():
    rng = np.random.default_rng(0)
    layer = nn.Dropout(0.4, rng=np.random.default_rng(1))
    x = rng.standard_normal((50, 20))
    y = layer.forward(x, train=True)
    mask = layer.mask
    assert set(np.unique(mask)) <= {0.0, 1 / 0.6} and 0.3 < (mask == 0).mean() < 0.5
    r = rng.standard_normal(y.shape)
    num = numeric_grad(lambda: float((x * mask * r).sum()), x)
    assert rel_error(layer.backward(r), num) < TOL
    assert layer.forward(x, train=False) is x  # identity at inference


@pytest.mark.parametrize("targets", ["one_hot", "indices"])
def test_softmax_cross_entropy_gradient(targets):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 4)) * 3
    labels = rng.integers(0, 4, 5)
    t = np.eye(4)[labels] if targets == "one_hot" else labels
    loss, grad = nn.softmax_cross_entropy(logits, t)
    num = numeric_grad(lambda: nn.softmax_cross_entropy(logits, t)[0], logits)
    assert rel_error(grad, num) < TOL
    expected = -np.mean(np.log(np.exp(logits)[np.arange(5), labels] / np.exp(logits).sum(1)))
    assert loss == pytest.approx(expected, rel=1e-12)


def test_loss_is_stable_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0]], dtype=np.float32)
    loss, grad = nn.softmax_cross_entropy(logits, np.array([1]))
    assert np.isfinite(loss) and loss == pytest.approx(2000.0) and np.isfinite(grad).all()


@pytest.mark.parametrize("plan", ["reference", "fast"])
def test_whole_small_cnn(plan):
    """Every parameter (and, on the reference plan, the input) through the fused loss."""
    model, x, y, dx, grads = whole_model_grads(compile=plan == "fast")
    assert model.plan.name == plan

    def loss():
        return nn.softmax_cross_entropy(model.forward(x), y)[0]

    errors = {name: rel_error(grads[name], numeric_grad(loss, p)) for name, p in model.parameters().items()}
    if plan == "reference":
        errors["x"] = rel_error(dx, numeric_grad(loss, x))
    else:
        assert dx is None  # the fast plan never computes the input's gradient
    assert len(errors) == 2 * 4 + (plan == "reference")
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("specs,shape", [(CNN_SPECS, (2, 6, 6)), ([
    {"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "relu"}, {"type": "maxpool2d", "size": 2},
    {"type": "flatten"}, {"type": "dense", "units": 4}, {"type": "relu"}, {"type": "dropout", "rate": 0.0},
    {"type": "dense", "units": "classes"}], (1, 6, 6))])
def test_the_fast_plan_computes_what_the_reference_plan_computes(specs, shape):
    """Pool before ReLU, ReLU in place, backward stopping early: the same numbers, bit for bit."""
    ref, fast = whole_model_grads(False, specs, shape), whole_model_grads(True, specs, shape)
    assert [type(layer) for layer in ref[0].plan.order] != [type(layer) for layer in fast[0].plan.order] \
        or ref[0].plan.first != fast[0].plan.first
    x = ref[1]
    np.testing.assert_array_equal(ref[0].forward(x), fast[0].forward(x))
    for name, g in ref[4].items():
        np.testing.assert_array_equal(fast[4][name], g, err_msg=name)


class BrokenDense(nn.Dense):
    """A plausible bug: the bias gradient forgets to sum over the batch and takes the mean."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["b"][...] = dy.mean(axis=0)
        return dx


def test_a_wrong_gradient_is_caught():
    rng = np.random.default_rng(0)
    errors = check_layer(BrokenDense(4, 3, rng=rng, dtype=np.float64), rng.standard_normal((5, 4)), rng)
    assert errors["W"] < TOL and errors["x"] < TOL
    assert errors["b"] > 0.1


def test_every_layer_kind_has_a_gradient_case():
    """Adding a layer kind to the package is its class plus one case in tests/support/gradients.py.
    Dropout is checked apart (test_dropout_gradient_uses_the_forward_mask): its training function
    draws a new mask on every call, so central differences cannot see it."""
    rng = np.random.default_rng(0)
    covered = {CASES[name](rng)[0].kind for name in CASES} | {"dropout"}
    ours = {kind for kind, cls in nn.LAYERS.items() if cls.__module__.startswith("scratchnet.")}
    assert ours <= covered, ours - covered


@pytest.mark.parametrize("name", [*CASES, "dropout"])
def test_float32_in_float32_out(name):
    if name == "dropout":
        layer, x = nn.Dropout(0.5), np.random.default_rng(0).standard_normal((4, 12)).astype(np.float32)
    else:
        layer, x = float32_case(name)
    y = layer.forward(x, train=True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())
    assert all(p.dtype == np.float32 for p in layer.params.values())


def test_loss_keeps_float32():
    logits = np.random.default_rng(0).standard_normal((8, 10)).astype(np.float32)
    _, grad = nn.softmax_cross_entropy(logits, np.eye(10, dtype=np.float32)[np.arange(8)])
    assert grad.dtype == np.float32


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 3), (3, 2), (2, 1)])
def test_maxpool_tie_gets_the_gradient_once(size, stride):
    x = np.zeros((2, 3, 7, 7), np.float32)  # every window is one big tie
    layer = nn.MaxPool2D(size, stride)
    y = layer.forward(x, train=True)
    dx = layer.backward(np.ones_like(y))
    assert dx.sum() == y.size  # each window routed its gradient to exactly one input
    assert set(np.unique(dx)) <= set(range(size * size + 1))
