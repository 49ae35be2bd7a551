"""Sequential: layers applied in order, their parameters in one flat buffer, run by a plan, with
inference in memory-bounded chunks."""

from __future__ import annotations

import numpy as np

from .flat import FlatDict, flatten
from .layers import Layer
from .plans import fast_plan, reference_plan

INFERENCE_CHUNK_BYTES = 8 * 2 ** 20  # the most one inference chunk may hold in any one layer: see Sequential.forward
INFERENCE_MIN_CHUNK = 16  # samples; smaller chunks spend more on per-call overhead than they save (bench/RESULTS.md)


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
        self._flat_params = None if share_params else flatten([layer.params for layer in layers])
        self._flat_grads = flatten([layer.grads for layer in layers])
        self.plan = reference_plan(layers)

    def compile(self) -> Sequential:
        """Run the fast plan from now on (see plans.fast_plan); returns the model."""
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

    def decayed(self) -> set[str]:
        """Qualified names of the parameters whose layer gives them the "weight" role: what weight
        decay applies to (not biases, not batchnorm's scale and shift)."""
        return {f"{i}.{k}" for i, layer in enumerate(self.layers) for k in layer.params if layer.roles.get(k) == "weight"}

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
        from .build import build  # build makes Sequentials: imported here, not at the top, to avoid a cycle

        twin = build(self.config(), self.input_shape, self.output_shape()[0], rng, weights=self.arrays(),
                     share_weights=True, compile=False)
        for layer in twin.layers:
            if layer.statistics:
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
