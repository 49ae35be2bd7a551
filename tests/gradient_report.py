"""Print each layer's worst relative gradient error (float64 central differences) and dtype check.

    python -m tests.gradient_report
"""

import numpy as np

from stages import nn
from stages.nn.gradcheck import check_layer, numeric_grad, rel_error
from tests.test_nn_gradients import CASES, LAYERS32, whole_model_grads


def main() -> None:
    print("| case | worst relative error | over |")
    print("| --- | ---: | --- |")
    for name, make in CASES.items():
        rng = np.random.default_rng(42)
        layer, x = make(rng)
        errors = check_layer(layer, x, rng)
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
    for name, make in LAYERS32.items():
        layer = make()
        x = np.random.default_rng(0).standard_normal((4, 12) if name == "dense" else (4, 3, 4, 4)).astype(np.float32)
        if name in ("relu", "sigmoid", "softmax", "dropout"):
            x = x.reshape(4, -1)
        y = layer.forward(x, train=True)
        dx = layer.backward(np.ones_like(y))
        kinds = {y.dtype, dx.dtype, *(g.dtype for g in layer.grads.values())}
        dtypes.append(f"{name}: {'/'.join(sorted(map(str, kinds)))}")
    print("\nfloat32 in -> output, input gradient, parameter gradients: " + "; ".join(dtypes))


if __name__ == "__main__":
    main()
