"""The training step, owned in one place: forward and loss (over shards), backward, gradient
clipping, the optimizer's update.

    model = nn.build(specs, (1, 28, 28), 10, rng)
    opt = nn.SGD(model.parameters(), model.gradients(), lr=0.1, momentum=0.9)
    with nn.Trainer(model, opt, loss=nn.softmax_cross_entropy) as trainer:
        loss, logits = trainer.step(x, y)     # x (N, C, H, W), y one-hot (N, K) or labels (N,)
"""

from __future__ import annotations

import math

import numpy as np

from .model import Sequential, batched
from .optim import Optimizer, clip_global_norm, clip_values
from .parallel import DataParallel


class Trainer:
    """Steps `optimizer` (bound to `model`'s parameters and gradients) on batches of `loss`.

    shards > 1 splits each batch over that many threads (see DataParallel); `rng` seeds their
    dropout. clip_dz clips the gradient flowing between layers, clip_value each gradient element,
    clip_norm the gradients' joint L2 norm. `group` spreads the shards over MPI processes
    (collective.MPIGroup), each of which runs its own Trainer and takes the same steps. Use as a
    context manager (it holds the shards' threads).
    """

    def __init__(self, model: Sequential, optimizer: Optimizer, *, loss, shards: int = 1,
                 rng: np.random.Generator | None = None, clip_dz: float | None = None,
                 clip_value: float | None = None, clip_norm: float | None = None, threads: int | None = None,
                 group=None):
        mine = model.parameters()
        if list(optimizer.params) != list(mine) or any(optimizer.params[k] is not v for k, v in mine.items()):
            raise ValueError("the optimizer is bound to other arrays than this model's parameters")
        self.model, self.optimizer = model, optimizer
        self.clip_dz, self.clip_value, self.clip_norm = clip_dz, clip_value, clip_norm
        rng = rng if rng is not None else np.random.default_rng(0)
        self.parallel = DataParallel(model, shards, rng, loss=loss, threads=threads, group=group)

    def __enter__(self) -> Trainer:
        self.parallel.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.parallel.__exit__(*exc)

    def step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """One update from the batch x (N, ...), y; returns (batch-mean loss, logits (N, K)).
        A loss that is not finite leaves the parameters as they were: the caller decides what then."""
        loss, logits = self.parallel.train_step(x, y, clip_dz=self.clip_dz)
        if not math.isfinite(loss):
            return loss, logits
        if self.clip_value is not None:
            clip_values(self.optimizer.grads, self.clip_value)
        if self.clip_norm is not None:
            clip_global_norm(self.optimizer.grads, self.clip_norm)
        self.optimizer.step()
        return loss, logits

    def predict_logits(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Inference logits (N, K) for x (N, ...), each batch split over the shards."""
        return batched(self.parallel.forward, x, batch_size)
