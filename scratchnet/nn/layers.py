"""Layers with the CS231n contract: forward(x, *, train) caches what backward(dy) -> dx needs.

Parameters and their gradients live in `params` and `grads`, two dicts with the same keys; backward
fills `grads` and never touches `params`. Per-sample shapes exclude the batch axis N.

A layer class is everything about its kind in one place: forward and backward, how it is built from
a spec and written back as one (from_spec, config), its ONNX nodes, its parameters' roles and its
capabilities, which the plans, DataParallel and the exporters read instead of asking for its type.
Defining a subclass with a `kind` registers it: build() then accepts `{type: KIND}` specs.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .init import initialise
from .spec import Context, SpecError, fraction, init_name, integer

# One ONNX node: (op type, input names, output names, attributes).
OnnxNode = tuple[str, list[str], list[str], dict]

LAYERS: dict[str, type[Layer]] = {}  # spec type -> class, filled as classes are defined


class Layer:
    """Base: a layer with no parameters that maps per-sample `in_shape` to `out_shape`."""

    kind: ClassVar[str] = ""
    spec_keys: ClassVar[frozenset[str]] = frozenset()  # what a spec may hold besides `type`
    # parameter name -> role; weight decay applies to the "weight" role only
    roles: ClassVar[dict[str, str]] = {}
    # capabilities (the fast plan and DataParallel read these):
    monotone: ClassVar[bool] = False  # a non-decreasing element-wise map: it commutes with max pooling
    max_pool: ClassVar[bool] = False  # a max over windows: a monotone map before it may run after it
    in_place: ClassVar[bool] = False  # element-wise, able to overwrite its input and the dy it gets
    fresh_output: ClassVar[bool] = False  # forward returns a new array that nothing else holds
    statistics: ClassVar[bool] = False  # keeps running statistics (state): see pool_statistics and owns_stats

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:  # a subclass that keeps its parent's kind is no new kind
            return
        known = LAYERS.get(cls.kind)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"layer kind {cls.kind!r} is taken by {known.__module__}.{known.__qualname__}")
        LAYERS[cls.kind] = cls

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}  # arrays saved with the model that no gradient trains (batchnorm's running stats)
        self.input_grad = True  # the fast plan turns this off for the first trainable layer: nobody reads dx there
        self.owns_stats = True  # with `statistics`: False in a replica, which leaves them to DataParallel
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
        """The spec this layer is built from (what the model file stores)."""
        return {"type": self.kind}

    @classmethod
    def from_spec(cls, spec: dict, shape: tuple[int, ...], ctx: Context) -> Layer:
        """The layer a spec describes, for per-sample input `shape`. Parameter-free layers whose
        constructor takes nothing need not override this."""
        return cls()

    def onnx(self, x: str, out: str, prefix: str) -> list[OnnxNode]:
        """The ONNX nodes computing this layer at inference from input `x` into `out`; the arrays
        of params and state are initialisers named prefix + key ("3.W"). [] means identity."""
        raise NotImplementedError(f"no ONNX translation for layer {self.kind}")

    def pool_statistics(self, stats: list) -> None:
        """With `statistics`: update this layer's running statistics from its replicas' `batch_stats`
        (one per shard of a batch, in shard order, gathered from every process) as if it had seen
        the whole batch."""

    def _alloc_grads(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def _bias_grad(self, dy_mat: np.ndarray) -> None:
        """grads["b"] = dy_mat (M, out) summed over its rows, as a GEMV with a ones vector, which BLAS
        runs faster than NumPy's sum(axis=0)."""
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
    spec_keys = frozenset({"units", "init"})
    roles: ClassVar[dict[str, str]] = {"W": "weight", "b": "bias"}
    fresh_output = True

    @classmethod
    def from_spec(cls, spec, shape, ctx):
        if len(shape) != 1:
            raise SpecError(f"dense needs a flat input but gets {shape}: put a flatten layer before it")
        units = ctx.num_classes if spec.get("units") == "classes" else integer(spec, "units")
        given = ctx.given({"W": (shape[0], units), "b": (units,)})
        return cls(shape[0], units, init=init_name(spec), rng=ctx.rng, dtype=ctx.dtype, weights=given)

    def onnx(self, x, out, prefix):
        return [("Gemm", [x, f"{prefix}W", f"{prefix}b"], [out], {})]

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

    The fast plan (plans.fast_plan) lets it work in place, saving an allocation and a pass each way:
    `inplace_forward` right after a layer with a fresh output (dense, conv, batchnorm), and
    `inplace_backward` unless it is the last layer (the gradient it receives is never read again).
    """

    kind = "relu"
    monotone = in_place = True

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

    def onnx(self, x, out, prefix):
        return [("Relu", [x], [out], {})]


class Sigmoid(Layer):
    """1 / (1 + exp(-x)), with x clipped to [-60, 60] so exp never overflows (even in float32)."""

    kind = "sigmoid"

    def forward(self, x, *, train):
        self.y = 1 / (1 + np.exp(-np.clip(x, -60, 60)))
        return self.y

    def backward(self, dy):
        return dy * self.y * (1 - self.y)

    def onnx(self, x, out, prefix):
        return [("Sigmoid", [x], [out], {})]


class Softmax(Layer):
    """Row-wise softmax over the last axis, for inference outputs; training uses the fused loss."""

    kind = "softmax"

    def forward(self, x, *, train):
        z = np.exp(x - x.max(axis=-1, keepdims=True))
        self.y = z / z.sum(axis=-1, keepdims=True)
        return self.y

    def backward(self, dy):
        return self.y * (dy - (dy * self.y).sum(axis=-1, keepdims=True))

    def onnx(self, x, out, prefix):
        return [("Softmax", [x], [out], {"axis": -1})]


class Dropout(Layer):
    """Inverted dropout: zero each unit with probability `rate` and scale the rest, only in training."""

    kind = "dropout"
    spec_keys = frozenset({"rate"})

    @classmethod
    def from_spec(cls, spec, shape, ctx):
        return cls(fraction(spec, "rate", 0.5), rng=ctx.rng)

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

    def onnx(self, x, out, prefix):
        return []  # identity at inference


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

    def onnx(self, x, out, prefix):
        return [("Flatten", [x], [out], {"axis": 1})]
