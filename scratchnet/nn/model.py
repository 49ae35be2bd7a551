"""Sequential models built from layer specs, and the plans they run (reference and fast)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .conv import Conv2D, MaxPool2D
from .init import INITIALISERS
from .layers import Dense, Dropout, Flatten, Layer, ReLU, Sigmoid, Softmax
from .norm import BatchNorm

INFERENCE_CHUNK_BYTES = 8 * 2 ** 20  # the most one inference chunk may hold in any one layer: see Sequential.forward
INFERENCE_MIN_CHUNK = 16  # samples; smaller chunks spend more on per-call overhead than they save (bench/RESULTS.md)


class SpecError(ValueError):
    """A layer spec is malformed or the stack's shapes do not fit."""


class FlatDict(dict):
    """Named arrays that are, in order, consecutive views of one 1-D buffer `flat`: an optimizer can
    update them all with one ufunc call per operation instead of one per array."""

    def __init__(self, items: dict[str, np.ndarray], flat: np.ndarray):
        super().__init__(items)
        self.flat = flat


def _flatten(dicts: list[dict[str, np.ndarray]]) -> np.ndarray | None:
    """Move the arrays of `dicts`, in order, into one new contiguous buffer and put views of it in
    their place; return the buffer (None, and nothing moved, if the dtypes differ)."""
    arrays = [a for d in dicts for a in d.values()]
    if len({a.dtype for a in arrays}) > 1:
        return None
    flat = np.empty(sum(a.size for a in arrays), arrays[0].dtype if arrays else np.float32)
    offset = 0
    for d in dicts:
        for name, a in d.items():
            d[name] = flat[offset:offset + a.size].reshape(a.shape)
            d[name][...] = a
            offset += a.size
    return flat


@dataclass
class Plan:
    """How a Sequential runs its layers: `order` (forward order), `first` (backward runs
    order[first:] in reverse) and the flags it set on the layers."""

    name: str
    order: list[Layer]
    first: int


def reference_plan(layers: list[Layer]) -> Plan:
    """The plain path: layers in written order, each computing every gradient, nothing in place."""
    for layer in layers:
        layer.input_grad = True
        if isinstance(layer, ReLU):
            layer.inplace_forward = layer.inplace_backward = False
    return Plan("reference", list(layers), 0)


def fast_plan(layers: list[Layer]) -> Plan:
    """The same function and gradients as reference_plan, with less work:

    - pool before ReLU: a ReLU directly before a MaxPool2D runs after it. max and ReLU commute
      (relu(max(x)) == max(relu(x)), gradients included), and pooling first leaves ReLU a quarter
      of the elements to touch, forward and backward;
    - backward stops at the first layer with parameters: nothing before it has anything to learn,
      and that layer skips its own input gradient (for an MLP behind a flatten, a third of the first
      layer's backward work);
    - ReLU in place: forward right after a dense, conv or batchnorm layer (whose fresh output
      nobody else holds), backward unless it is the last layer (the gradient it receives from the layer after
      it is never read again),
      saving an allocation and a pass each way.
    The architecture, the saved model and the ONNX export keep the written order.
    """
    plan = reference_plan(layers)
    order = plan.order
    for i in range(len(order) - 1):
        if isinstance(order[i], ReLU) and isinstance(order[i + 1], MaxPool2D):
            order[i], order[i + 1] = order[i + 1], order[i]
    first = next((i for i, layer in enumerate(order) if layer.params), len(order))
    if first < len(order):
        order[first].input_grad = False
    for i, (before, layer) in enumerate(zip([None, *order], order)):
        if isinstance(layer, ReLU):
            layer.inplace_backward = i < len(order) - 1  # the last layer's dy is the caller's: not ours to overwrite
            layer.inplace_forward = isinstance(before, (Dense, Conv2D, BatchNorm))
    return Plan("fast", order, first)


class Sequential:
    """Layers applied in order. Input (N, C, H, W) or whatever the first layer takes.

    The parameters of all layers live in one flat buffer, and so do the gradients (parameters()
    and gradients() return FlatDicts, which an optimizer updates in one pass), unless
    `share_params`: a replica keeps the arrays it was given, which belong to another model.
    A new model runs the reference plan; compile() switches it to the fast one.
    """

    def __init__(self, layers: list[Layer], input_shape: tuple[int, ...], *, share_params: bool = False):
        self.layers = layers
        self.input_shape = tuple(input_shape)
        self._flat_params = None if share_params else _flatten([layer.params for layer in layers])
        self._flat_grads = _flatten([layer.grads for layer in layers])
        self.plan = reference_plan(layers)

    def compile(self) -> Sequential:
        """Run the fast plan from now on (see fast_plan); returns the model."""
        self.plan = fast_plan(self.layers)
        return self

    def forward(self, x: np.ndarray, *, train: bool = False) -> np.ndarray:
        """Output for x (N, ...). In inference, a batch whose working set in some layer would pass
        INFERENCE_CHUNK_BYTES runs through in chunks of as many samples as fit, INFERENCE_MIN_CHUNK
        at least (the outputs agree with one pass to float32 round-off): memory stays bounded, and
        the chunks stay in cache (bench/RESULTS.md, "Memory: chunked inference"). Training keeps
        the batch whole."""
        if not train:
            fit = max(INFERENCE_MIN_CHUNK, INFERENCE_CHUNK_BYTES // (x.itemsize * self.footprint(x.shape[1:])))
            if fit < len(x):
                return batched(self._run, x, fit)
        return self._run(x, train=train)

    def _run(self, x: np.ndarray, *, train: bool = False) -> np.ndarray:
        for layer in self.plan.order:
            x = layer.forward(x, train=train)
        return x

    def footprint(self, sample_shape: tuple[int, ...]) -> int:
        """The most elements per sample any one layer's forward holds at once (input, output and
        scratch), for inputs of sample_shape."""
        most = 0
        for layer in self.plan.order:
            most = max(most, layer.footprint(sample_shape))
            sample_shape = layer.out_shape(sample_shape)
        return most

    def backward(self, dy: np.ndarray, *, clip_dz: float | None = None) -> np.ndarray | None:
        """Backpropagate dL/d(output): fills each layer's grads and returns dL/d(input) (None under
        the fast plan, which does not compute it). clip_dz clips the signal between layers."""
        for layer in reversed(self.plan.order[self.plan.first:]):
            if clip_dz is not None:
                dy = np.clip(dy, -clip_dz, clip_dz)
            dy = layer.backward(dy)
        return dy

    def parameters(self) -> dict[str, np.ndarray]:
        """Qualified name ("0.W") -> array, a FlatDict when they share one buffer."""
        named = {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}
        return named if self._flat_params is None else FlatDict(named, self._flat_params)

    def gradients(self) -> dict[str, np.ndarray]:
        named = {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}
        return named if self._flat_grads is None else FlatDict(named, self._flat_grads)

    def state(self) -> dict[str, np.ndarray]:
        """Qualified name ("3.mean") -> the arrays saved with the model that no gradient trains."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.state.items()}

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the model file holds: parameters() then state()."""
        return {**self.parameters(), **self.state()}

    def config(self) -> list[dict]:
        """The layer specs, in written order: what build() takes and the model file stores."""
        return [layer.config() for layer in self.layers]

    def spec_and_weights(self) -> list[tuple[dict, dict[str, np.ndarray]]]:
        """(spec, weights) of each layer in written order, spec as in config() and weights keyed
        "W", "b" (batchnorm: "gamma", "beta", "mean", "var"): all a translator to another framework
        (ONNX, PyTorch) needs to walk."""
        return [(layer.config(), {**layer.params, **layer.state}) for layer in self.layers]

    def output_shape(self) -> tuple[int, ...]:
        """Per-sample output shape, walked through the layers without running them."""
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.out_shape(shape)
        return shape

    def replica(self, rng: np.random.Generator) -> Sequential:
        """A model of the same layers and plan sharing this one's parameter arrays (an optimizer step
        on either updates both) but with its own gradients, caches and buffers; `rng` drives its dropout.
        It shares the running statistics too, and leaves their update to DataParallel."""
        twin = build(self.config(), self.input_shape, self.output_shape()[0], rng, weights=self.arrays(),
                     share_weights=True, compile=False)
        for layer in twin.layers:
            if isinstance(layer, BatchNorm):
                layer.owns_stats = False
        return twin.compile() if self.plan.name == "fast" else twin

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters().values()))

    def predict_logits(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Inference logits (N, K) for x (N, ...), batch_size rows at a time."""
        return batched(self.forward, x, batch_size)


def batched(fn, x: np.ndarray, batch_size: int) -> np.ndarray:
    """fn applied to x (N, ...) batch_size rows at a time, the results concatenated along axis 0:
    every batched inference in the project goes through here."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return np.concatenate([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def _int(spec: dict, key: str, default: Any = None, low: int = 1) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{key}: expected an integer >= {low}, got {value!r}")
    return value


def _init(spec: dict) -> str:
    name = spec.get("init", "he_normal")
    if name not in INITIALISERS:
        raise SpecError(f"init: got {name!r}, allowed: {', '.join(INITIALISERS)}")
    return name


LAYER_KEYS = {
    "dense": {"units", "init"},
    "conv2d": {"filters", "kernel", "stride", "padding", "init"},
    "maxpool2d": {"size", "stride"},
    "dropout": {"rate"},
    "batchnorm": {"momentum", "eps"},
    "flatten": set(), "relu": set(), "sigmoid": set(), "softmax": set(),
}


def _given(weights: dict | None, want: dict[str, tuple]) -> dict | None:
    """Check given arrays against the shapes a spec implies, before anything is allocated."""
    if weights is None:
        return None
    for name, shape in want.items():
        if name not in weights or tuple(weights[name].shape) != shape:
            got = tuple(weights[name].shape) if name in weights else "nothing"
            raise SpecError(f"parameter {name} should be {shape}, the arrays hold {got}")
    return {name: weights[name] for name in want}


def _make(spec: dict, shape: tuple[int, ...], num_classes: int, rng: np.random.Generator, dtype,
          weights: dict | None = None, share: bool = False) -> Layer:
    kind = spec.get("type")
    if kind not in LAYER_KEYS:
        raise SpecError(f"type: got {kind!r}, allowed: {', '.join(LAYER_KEYS)}")
    unknown = set(spec) - LAYER_KEYS[kind] - {"type"}
    if unknown:
        raise SpecError(f"{sorted(unknown)[0]}: unknown key for {kind}; allowed: {', '.join(sorted(LAYER_KEYS[kind])) or 'none'}")
    if kind == "dense":
        if len(shape) != 1:
            raise SpecError(f"dense needs a flat input but gets {shape}: put a flatten layer before it")
        units = num_classes if spec.get("units") == "classes" else _int(spec, "units")
        given = _given(weights, {"W": (shape[0], units), "b": (units,)})
        return Dense(shape[0], units, init=_init(spec), rng=rng, dtype=dtype, weights=given)
    if kind == "conv2d":
        if len(shape) != 3:
            raise SpecError(f"conv2d needs a (C, H, W) input but gets {shape}")
        filters, kernel = _int(spec, "filters"), _int(spec, "kernel", 3)
        given = _given(weights, {"W": (filters, shape[0], kernel, kernel), "b": (filters,)})
        return Conv2D(shape[0], filters, kernel, stride=_int(spec, "stride", 1), padding=_int(spec, "padding", 0, low=0),
                      init=_init(spec), rng=rng, dtype=dtype, weights=given)
    if kind == "maxpool2d":
        if len(shape) != 3:
            raise SpecError(f"maxpool2d needs a (C, H, W) input but gets {shape}")
        size = _int(spec, "size", 2)
        return MaxPool2D(size, _int(spec, "stride", size))
    if kind == "batchnorm":
        if len(shape) not in (1, 3):
            raise SpecError(f"batchnorm needs a (D,) or (C, H, W) input but gets {shape}")
        momentum, eps = spec.get("momentum", 0.9), spec.get("eps", 1e-5)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
            raise SpecError(f"momentum: expected a number in [0, 1), got {momentum!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps <= 1:
            raise SpecError(f"eps: expected a number in (0, 1], got {eps!r}")
        n = shape[0]
        given = _given(weights, {"gamma": (n,), "beta": (n,), "mean": (n,), "var": (n,)})
        if given is not None and not share:  # parameters are copied into the flat buffer; the state here
            given = {k: v if k in ("gamma", "beta") else v.copy() for k, v in given.items()}
        return BatchNorm(n, momentum=float(momentum), eps=float(eps), dtype=dtype, weights=given)
    if kind == "dropout":
        rate = spec.get("rate", 0.5)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise SpecError(f"rate: expected a number in [0, 1), got {rate!r}")
        return Dropout(float(rate), rng=rng)
    return {"flatten": Flatten, "relu": ReLU, "sigmoid": Sigmoid, "softmax": Softmax}[kind]()


def build(specs: list[dict], input_shape: tuple[int, ...], num_classes: int,
          rng: np.random.Generator, dtype=np.float32, weights: dict[str, np.ndarray] | None = None,
          share_weights: bool = False, compile: bool = True) -> Sequential:
    """Build a model for per-sample `input_shape` (C, H, W) whose output is (num_classes,) logits,
    compiled to its fast plan unless `compile` is False (the reference path, for tests).

    With `weights` (qualified name -> array, as saved), layers take those arrays instead of fresh
    ones; every shape is checked first, so a hostile manifest cannot make it allocate anything.
    They are copied into the model's own flat buffer, or, with `share_weights`, used as they are.
    """
    if not isinstance(specs, list) or not specs:
        raise SpecError("layers: expected a non-empty list of layer specs")
    layers, shape = [], tuple(input_shape)
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise SpecError(f"layers[{i}]: expected a mapping like {{type: dense, units: 64}}, got {spec!r}")
        try:
            mine = None if weights is None else {k[len(f"{i}."):]: v for k, v in weights.items() if k.startswith(f"{i}.")}
            layer = _make(spec, shape, num_classes, rng, dtype, mine, share_weights)
            shape = layer.out_shape(shape)
        except (SpecError, ValueError) as e:
            raise SpecError(f"layers[{i}] ({spec.get('type')}): {e}") from None
        layers.append(layer)
    if shape != (num_classes,):
        raise SpecError(f"layers: the stack outputs {shape} but the data has {num_classes} classes; "
                        "end with {type: dense, units: classes}")
    model = Sequential(layers, input_shape, share_params=share_weights)
    return model.compile() if compile else model
