"""Winograd convolution (nn/winograd.py): the matrices, the layer against im2col, float32 error,
and which algorithm a layer shape gets. Gradient checks: tests/support/gradients.py CASES."""

import numpy as np
import pytest

from stages import nn
from stages.nn.conv import choose_algorithm
from stages.nn.winograd import Winograd


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
    assert choose_algorithm(32, 64, 3, 1, 1) == "im2col"  # the cnn preset's layers: im2col wins
    assert choose_algorithm(1, 32, 3, 1, 1) == "im2col"
    assert choose_algorithm(64, 64, 3, 1, 1) == "winograd4"  # wider layers: Winograd wins
    assert choose_algorithm(128, 128, 3, 1, 0) == "winograd4"
    assert choose_algorithm(128, 128, 3, 2, 1) == "im2col"  # strided, or not 3x3: no Winograd
    assert choose_algorithm(128, 128, 5, 1, 2) == "im2col"
    assert nn.Conv2D(64, 64, 3, padding=1).algorithm == "winograd4"


@pytest.mark.parametrize("kwargs,match", [({"algorithm": "fft"}, "must be one of"),
                                          ({"algorithm": "winograd4", "stride": 2}, "stride 1"),
                                          ({"algorithm": "winograd2", "kernel": 5}, "3x3 kernel")])
def test_an_impossible_algorithm_is_refused(kwargs, match):
    kernel = kwargs.pop("kernel", 3)
    with pytest.raises(ValueError, match=match):
        nn.Conv2D(2, 2, kernel, **kwargs)
