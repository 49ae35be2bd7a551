"""Gradient-check cases (float64, tiny shapes) for the tests, and the report of their errors:

    python -m tests.support.gradients
"""

import numpy as np

from scratchnet import nn
from scratchnet.nn.gradcheck import check_layer, numeric_grad, rel_error


def away_from_zero(rng, shape, margin=0.1):
    """Normal samples pushed at least `margin` away from 0 (ReLU's kink)."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def distinct(rng, shape):
    """Values with no ties, spaced apart, so a max-pool's winner never flips under a 1e-5 nudge."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + rng.uniform(0, 0.001, shape)


def _batchnorm(rng, n):
    """A float64 batchnorm with scale and shift away from their 1 and 0 starting values."""
    layer = nn.BatchNorm(n, dtype=np.float64)
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, n)
    layer.params["beta"][...] = rng.standard_normal(n)
    return layer


CASES = {
    "dense": lambda rng: (nn.Dense(5, 4, rng=rng, dtype=np.float64), rng.standard_normal((3, 5))),
    "dense_xavier": lambda rng: (nn.Dense(3, 6, init="xavier_uniform", rng=rng, dtype=np.float64), rng.standard_normal((2, 3))),
    "conv_3x3": lambda rng: (nn.Conv2D(2, 3, 3, rng=rng, dtype=np.float64), rng.standard_normal((2, 2, 5, 5))),
    "conv_stride2_pad1": lambda rng: (nn.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng, dtype=np.float64),
                                      rng.standard_normal((2, 2, 7, 6))),
    "conv_5x5_pad2": lambda rng: (nn.Conv2D(1, 2, 5, padding=2, rng=rng, dtype=np.float64), rng.standard_normal((2, 1, 6, 6))),
    "conv_1x1": lambda rng: (nn.Conv2D(3, 2, 1, rng=rng, dtype=np.float64), rng.standard_normal((2, 3, 4, 4))),
    "conv_winograd2": lambda rng: (nn.Conv2D(2, 3, 3, padding=1, rng=rng, dtype=np.float64, algorithm="winograd2"),
                                   rng.standard_normal((2, 2, 5, 6))),
    "conv_winograd4": lambda rng: (nn.Conv2D(2, 3, 3, padding=1, rng=rng, dtype=np.float64, algorithm="winograd4"),
                                   rng.standard_normal((2, 2, 7, 6))),
    "conv_winograd4_pad0": lambda rng: (nn.Conv2D(3, 2, 3, rng=rng, dtype=np.float64, algorithm="winograd4"),
                                        rng.standard_normal((2, 3, 6, 9))),
    "conv_winograd4_pad2": lambda rng: (nn.Conv2D(2, 2, 3, padding=2, rng=rng, dtype=np.float64, algorithm="winograd4"),
                                        rng.standard_normal((1, 2, 4, 5))),
    "maxpool_2": lambda rng: (nn.MaxPool2D(2), distinct(rng, (2, 3, 4, 6))),
    "maxpool_3_stride2": lambda rng: (nn.MaxPool2D(3, 2), distinct(rng, (2, 2, 7, 7))),
    "maxpool_odd_input": lambda rng: (nn.MaxPool2D(2), distinct(rng, (1, 2, 5, 5))),
    "flatten": lambda rng: (nn.Flatten(), rng.standard_normal((2, 3, 2, 2))),
    "relu": lambda rng: (nn.ReLU(), away_from_zero(rng, (4, 7))),
    "sigmoid": lambda rng: (nn.Sigmoid(), 3 * rng.standard_normal((4, 7))),
    "softmax": lambda rng: (nn.Softmax(), rng.standard_normal((4, 7))),
    "batchnorm_dense": lambda rng: (_batchnorm(rng, 4), 2 * rng.standard_normal((6, 4)) + 1),
    "batchnorm_conv": lambda rng: (_batchnorm(rng, 3), 2 * rng.standard_normal((2, 3, 4, 5)) - 1),
}
TRAIN_MODE = {"batchnorm_dense", "batchnorm_conv"}  # checked on the training function (batch statistics)


CNN_SPECS = [
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": 1}, {"type": "sigmoid"},
    {"type": "maxpool2d", "size": 2},
    {"type": "conv2d", "filters": 4, "kernel": 3, "stride": 2, "padding": 1}, {"type": "relu"},
    {"type": "maxpool2d", "size": 2, "stride": 1},
    {"type": "flatten"}, {"type": "dense", "units": 5}, {"type": "relu"},
    {"type": "dense", "units": "classes"},
]


BN_SPECS = [
    {"type": "conv2d", "filters": 3, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "relu"},
    {"type": "maxpool2d", "size": 2},
    {"type": "flatten"}, {"type": "dense", "units": 5}, {"type": "batchnorm", "momentum": 0.5}, {"type": "relu"},
    {"type": "dense", "units": "classes"},
]


def whole_model_grads(compile: bool, specs=CNN_SPECS, input_shape=(2, 6, 6), n=4):
    """(model, x, y, dx, grads) after one backward through the fused loss, in training mode."""
    rng = np.random.default_rng(7)
    model = nn.build(specs, input_shape, 3, rng, dtype=np.float64, compile=compile)
    x, y = rng.standard_normal((n, *input_shape)), rng.integers(0, 3, n)
    _, dlogits = nn.softmax_cross_entropy(model.forward(x, train=True), y)
    dx = model.backward(dlogits)
    return model, x, y, dx, {k: v.copy() for k, v in model.gradients().items()}


def float32_case(name: str):
    """(layer, x) of CASES[name] with its arrays and input in float32: what training runs on."""
    layer, x = CASES[name](np.random.default_rng(0))
    for arrays in (layer.params, layer.grads, layer.state):
        for k, v in arrays.items():
            arrays[k] = v.astype(np.float32)
    return layer, x.astype(np.float32)


def main() -> None:
    print("| case | worst relative error | over |")
    print("| --- | ---: | --- |")
    for name, make in CASES.items():
        rng = np.random.default_rng(42)
        layer, x = make(rng)
        errors = check_layer(layer, x, rng, train=name in TRAIN_MODE)
        print(f"| {name} | {max(errors.values()):.1e} | {', '.join(errors)} |")
    rng = np.random.default_rng(3)
    logits, labels = rng.standard_normal((5, 4)) * 3, rng.integers(0, 4, 5)
    _, grad = nn.softmax_cross_entropy(logits, labels)
    err = rel_error(grad, numeric_grad(lambda: nn.softmax_cross_entropy(logits, labels)[0], logits))
    print(f"| softmax_cross_entropy | {err:.1e} | logits |")
    model, x, y, dx, grads = whole_model_grads(compile=False)

    def loss():
        return nn.softmax_cross_entropy(model.forward(x), y)[0]
    errors = {"x": rel_error(dx, numeric_grad(loss, x)),
              **{k: rel_error(grads[k], numeric_grad(loss, p)) for k, p in model.parameters().items()}}
    print(f"| whole CNN (conv, sigmoid, pool, strided conv, relu, overlapping pool, dense) | {max(errors.values()):.1e} | {', '.join(errors)} |")
    dtypes = []
    for name in CASES:
        layer, x = float32_case(name)
        y = layer.forward(x, train=True)
        dx = layer.backward(np.ones_like(y))
        kinds = {y.dtype, dx.dtype, *(g.dtype for g in layer.grads.values())}
        dtypes.append(f"{name}: {'/'.join(sorted(map(str, kinds)))}")
    print("\nfloat32 in -> output, input gradient, parameter gradients: " + "; ".join(dtypes))


if __name__ == "__main__":
    main()
