"""Winograd convolution (nn/winograd.py): the matrices, the layer against im2col, float32 error,
and which algorithm a layer shape gets. Gradient checks: tests/support/gradients.py CASES."""

import numpy as np
import pytest

from scratchnet import nn
from scratchnet.nn.conv import choose_algorithm
from scratchnet.nn.winograd import Winograd


@pytest.mark.parametrize("m", [2, 4])
def test_the_matrices_compute_a_three_tap_correlation(m):
    """A^T [(G g) * (B^T d)] = the m outputs of sliding g over d, in float64 round-off."""
    wg, rng = Winograd(m, buffer=None), np.random.default_rng(m)
    d, g = rng.standard_normal(m + 2), rng.standard_normal(3)
    expected = np.array([d[i:i + 3] @ g for i in range(m)])
    np.testing.assert_allclose(wg.AT @ ((wg.G @ g) * (wg.BT @ d)), expected, rtol=0, atol=1e-13)


def _pair(algorithm, c, o, pad, dtype=np.float64):
    ref = nn.Conv2D(c, o, 3, padding=pad, rng=np.random.default_rng(1), dtype=dtype, algorithm="im2col")
    ref.params["b"][...] = np.random.default_rng(2).standard_normal(o)
    fast = nn.Conv2D(c, o, 3, padding=pad, dtype=dtype, algorithm=algorithm,
                     weights={k: v.copy() for k, v in ref.params.items()})
    return ref, fast


@pytest.mark.parametrize("algorithm", ["winograd2", "winograd4"])
@pytest.mark.parametrize("n,c,o,h,w,pad", [(2, 3, 4, 5, 7, 1), (3, 8, 5, 14, 14, 1), (2, 2, 3, 6, 9, 0),
                                           (1, 2, 3, 4, 5, 2), (2, 1, 2, 3, 3, 0)])
def test_winograd_computes_what_im2col_computes(algorithm, n, c, o, h, w, pad):
    """Output, input gradient and parameter gradients, float64, partial tiles at the edges included."""
    ref, fast = _pair(algorithm, c, o, pad)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    y_ref, y = ref.forward(x, train=True), fast.forward(x, train=True)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.backward(dy), ref.backward(dy), rtol=0, atol=1e-12)
    for name in ref.grads:
        np.testing.assert_allclose(fast.grads[name], ref.grads[name], rtol=0, atol=1e-12)


@pytest.mark.parametrize("algorithm,bound", [("im2col", 1e-6), ("winograd2", 1e-6), ("winograd4", 2e-5)])
def test_float32_error_against_a_float64_reference(algorithm, bound):
    """The cnn preset's second layer in float32, against the same layer in float64: the largest
    error relative to the largest output (bench/conv_algorithms.py reports the measured values)."""
    ref, _ = _pair("im2col", 32, 64, 1)
    _, fast = _pair(algorithm, 32, 64, 1, dtype=np.float32)
    x = np.maximum(np.random.default_rng(0).standard_normal((4, 32, 14, 14)), 0)
    y_ref, y = ref.forward(x, train=False), fast.forward(x.astype(np.float32), train=False)
    assert y.dtype == np.float32
    assert np.abs(y - y_ref).max() / np.abs(y_ref).max() < bound


def test_each_layer_shape_gets_the_algorithm_measured_fastest():
    assert choose_algorithm(32, 64, 3, 1, 1) == "im2col"  # the cnn preset's layers: a tie, im2col kept
    assert choose_algorithm(1, 32, 3, 1, 1) == "im2col"
    assert choose_algorithm(64, 64, 3, 1, 1) == "winograd4"  # wider layers: Winograd wins
    assert choose_algorithm(128, 128, 3, 1, 0) == "winograd4"
    assert choose_algorithm(16, 256, 3, 1, 1) == "im2col"  # one narrow side: the transforms cost more
    assert choose_algorithm(512, 8, 3, 1, 1) == "im2col"
    assert choose_algorithm(128, 128, 3, 2, 1) == "im2col"  # strided, or not 3x3: no Winograd
    assert choose_algorithm(128, 128, 5, 1, 2) == "im2col"
    assert choose_algorithm(128, 128, 3, 1, 3) == "im2col"  # padding past 2: dx would need a crop
    assert nn.Conv2D(64, 64, 3, padding=1).algorithm == "winograd4"
    assert nn.Conv2D(64, 64, 3, padding=3).algorithm == "im2col"


@pytest.mark.parametrize("kwargs,match", [({"algorithm": "fft"}, "must be one of"),
                                          ({"algorithm": "winograd4", "stride": 2}, "stride 1"),
                                          ({"algorithm": "winograd2", "kernel": 5}, "3x3 kernel")])
def test_an_impossible_algorithm_is_refused(kwargs, match):
    kernel = kwargs.pop("kernel", 3)
    with pytest.raises(ValueError, match=match):
        nn.Conv2D(2, 2, kernel, **kwargs)


@pytest.mark.parametrize("algorithm", ["winograd2", "winograd4"])
@pytest.mark.parametrize("pad", [0, 1, 2])
def test_one_layer_on_inputs_of_changing_size(algorithm, pad):
    """Scratch kept from a larger input must not leak into a smaller one sharing its tile grid."""
    ref, fast = _pair(algorithm, 2, 3, pad)
    rng = np.random.default_rng(5)
    for size in (8, 7, 8, 6, 5, 9):
        x = rng.standard_normal((2, 2, size, size))
        y = fast.forward(x, train=True)
        np.testing.assert_allclose(y, ref.forward(x, train=True), rtol=0, atol=1e-12, err_msg=f"size {size}")
        dy = rng.standard_normal(y.shape)
        np.testing.assert_allclose(fast.backward(dy), ref.backward(dy), rtol=0, atol=1e-12, err_msg=f"size {size}")
        np.testing.assert_allclose(fast.grads["W"], ref.grads["W"], rtol=0, atol=1e-12, err_msg=f"size {size}")


def _model(algorithm):
    """A float64 model with two Winograd-sized convolutions (64 channels), the first one's input
    gradient skipped under the fast plan."""
    rng = np.random.default_rng(3)
    layers = [nn.Conv2D(2, 64, 3, padding=1, rng=rng, dtype=np.float64, algorithm=algorithm), nn.ReLU(),
              nn.Conv2D(64, 64, 3, padding=1, rng=rng, dtype=np.float64, algorithm=algorithm), nn.ReLU(),
              nn.MaxPool2D(2), nn.Flatten(), nn.Dense(64 * 2 * 3, 3, rng=rng, dtype=np.float64)]
    return nn.Sequential(layers, (2, 4, 6))


@pytest.mark.parametrize("plan", ["reference", "fast"])
def test_a_model_of_winograd_layers_matches_the_same_model_by_im2col(plan):
    ref, fast = _model("im2col"), _model("winograd4")
    if plan == "fast":
        ref.compile(), fast.compile()
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((3, 2, 4, 6)), rng.integers(0, 3, 3)
    for model in (ref, fast):
        _, dlogits = nn.softmax_cross_entropy(model.forward(x, train=True), y)
        model.dx = model.backward(dlogits)
    for name, g in ref.gradients().items():
        np.testing.assert_allclose(fast.gradients()[name], g, rtol=1e-9, atol=1e-12, err_msg=name)
    if plan == "reference":
        np.testing.assert_allclose(fast.dx, ref.dx, rtol=1e-9, atol=1e-12)
    with nn.DataParallel(fast, 2, np.random.default_rng(0), loss=nn.softmax_cross_entropy) as parallel:
        loss, _ = parallel.train_step(x, y)  # replicas on two threads, each with its own scratch
    with nn.DataParallel(ref, 2, np.random.default_rng(0), loss=nn.softmax_cross_entropy) as parallel:
        ref_loss, _ = parallel.train_step(x, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name, g in ref.gradients().items():
        np.testing.assert_allclose(fast.gradients()[name], g, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.Conv2D(3, 5, 3, padding=1, algorithm="im2col"), (3, 7, 6)),
    (lambda: nn.Conv2D(3, 5, 3, algorithm="im2col"), (3, 7, 6)),
    (lambda: nn.Conv2D(3, 5, 3, stride=2, padding=1, algorithm="im2col"), (3, 7, 6)),
    (lambda: nn.Conv2D(3, 5, 3, padding=1, algorithm="winograd4"), (3, 7, 6)),
    (lambda: nn.Conv2D(3, 5, 3, padding=2, algorithm="winograd2"), (3, 5, 5)),
    (lambda: nn.MaxPool2D(2), (3, 6, 8)),
])
def test_footprint_counts_what_an_inference_forward_holds(layer, shape):
    """Per sample: input, output and every scratch array the forward pass left behind."""
    layer = layer()
    x = np.random.default_rng(0).standard_normal((4, *shape)).astype(np.float32)
    y = layer.forward(x, train=False)
    held = x.size + y.size + sum(b.size for b in layer._buffers.values())
    assert layer.footprint(shape) * len(x) == held
