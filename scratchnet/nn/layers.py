"""Layers with the CS231n contract: forward(x, *, train) caches what backward(dy) -> dx needs.

Parameters and their gradients live in `params` and `grads`, two dicts with the same keys; backward
fills `grads` and never touches `params`. Per-sample shapes exclude the batch axis N.
"""

from __future__ import annotations

import numpy as np

from .init import initialise


class Layer:
    """Base: a layer with no parameters that maps per-sample `in_shape` to `out_shape`."""

    kind = "layer"

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}  # arrays saved with the model that no gradient trains (batchnorm's running stats)
        self.input_grad = True  # the fast plan turns this off for the first trainable layer: nobody reads dx there
        self._buffers: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return in_shape

    def footprint(self, in_shape: tuple[int, ...]) -> int:
        """Elements per sample that forward holds at once: its input and output, plus any scratch."""
        return int(np.prod(in_shape)) + int(np.prod(self.out_shape(in_shape)))

    def config(self) -> dict:
        return {"type": self.kind}

    def _alloc_grads(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _bias_grad(self, dy_mat: np.ndarray) -> None:
        """grads["b"] = dy_mat (M, out) summed over its rows, as a GEMV with a ones vector: BLAS does
        that several times faster than sum(axis=0)."""
        np.matmul(self._buffer("ones", (len(dy_mat),), dy_mat.dtype, fill=1), dy_mat, out=self.grads["b"])

    def _buffer(self, name: str, shape: tuple, dtype, fill: float | None = None) -> np.ndarray:
        """A scratch array kept and reused while the batch shape stays the same, sparing a large
        fresh allocation (and its page faults) every step. Valid until the next forward/backward.
        `fill` sets its values once, when it is (re)allocated."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[name] = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
        return buf


class Dense(Layer):
    """y = x @ W + b. x (N, in), W (in, out), b (out,), y (N, out)."""

    kind = "dense"

    def __init__(self, n_in: int, n_out: int, *, init: str = "he_normal",
                 rng: np.random.Generator | None = None, dtype=np.float32, weights: dict | None = None):
        super().__init__()
        self.init = init
        if weights is None:
            rng = rng if rng is not None else np.random.default_rng(0)
            weights = {"W": initialise(init, (n_in, n_out), rng, dtype), "b": np.zeros(n_out, dtype)}
        self.params = weights
        self._alloc_grads()

    def forward(self, x, *, train):
        self.x = x
        y = x @ self.params["W"]
        y += self.params["b"]
        return y

    def backward(self, dy):
        np.matmul(self.x.T, dy, out=self.grads["W"])
        self._bias_grad(dy)
        return dy @ self.params["W"].T if self.input_grad else None

    def out_shape(self, in_shape):
        if len(in_shape) != 1 or in_shape[0] != self.params["W"].shape[0]:
            raise ValueError(f"dense expects input ({self.params['W'].shape[0]},), got {in_shape}")
        return (self.params["W"].shape[1],)

    def config(self):
        return {"type": self.kind, "units": int(self.params["W"].shape[1]), "init": self.init}


class ReLU(Layer):
    """max(x, 0).

    The fast plan (model.fast_plan) lets it work in place, saving an allocation and a pass each way: `inplace_forward`
    right after a dense or conv layer (whose fresh output nobody else holds), and
    `inplace_backward` always (the gradient it receives is never read again by its producer).
    """

    kind = "relu"

    def __init__(self):
        super().__init__()
        self.inplace_forward = self.inplace_backward = False

    def forward(self, x, *, train):
        self.y = np.maximum(x, 0, out=x if self.inplace_forward else None)
        return self.y

    def backward(self, dy):
        if self.inplace_backward:
            dy *= self.y > 0
            return dy
        return dy * (self.y > 0)


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), with x clipped to [-60, 60] so exp never overflows (even in float32)."""

    kind = "sigmoid"

    def forward(self, x, *, train):
        self.y = 1 / (1 + np.exp(-np.clip(x, -60, 60)))
        return self.y

    def backward(self, dy):
        return dy * self.y * (1 - self.y)


class Softmax(Layer):
    """Row-wise softmax over the last axis, for inference outputs; training uses the fused loss."""

    kind = "softmax"

    def forward(self, x, *, train):
        z = np.exp(x - x.max(axis=-1, keepdims=True))
        self.y = z / z.sum(axis=-1, keepdims=True)
        return self.y

    def backward(self, dy):
        return self.y * (dy - (dy * self.y).sum(axis=-1, keepdims=True))


class Dropout(Layer):
    """Inverted dropout: zero each unit with probability `rate` and scale the rest, only in training."""

    kind = "dropout"

    def __init__(self, rate: float, *, rng: np.random.Generator | None = None):
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.mask = None

    def forward(self, x, *, train):
        if not train or self.rate == 0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.rate
        self.mask = keep.astype(x.dtype) * x.dtype.type(1 / (1 - self.rate))
        return x * self.mask

    def backward(self, dy):
        return dy if self.mask is None else dy * self.mask

    def config(self):
        return {"type": self.kind, "rate": self.rate}


class Flatten(Layer):
    """(N, *shape) -> (N, prod(shape)), in C order of the logical shape (NCHW for images)."""

    kind = "flatten"

    def forward(self, x, *, train):
        self.shape = x.shape
        # a channels-last input (a conv's output) gets its gradient back channels-last too, so the
        # element-wise passes before it in backward never mix memory layouts
        self.channels_last = x.ndim == 4 and x.transpose(0, 2, 3, 1).flags.c_contiguous and x.shape[1] > 1
        return x.reshape(len(x), -1)

    def backward(self, dy):
        dx = dy.reshape(self.shape)
        if self.channels_last:
            dx = np.ascontiguousarray(dx.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        return dx

    def out_shape(self, in_shape):
        return (int(np.prod(in_shape)),)
