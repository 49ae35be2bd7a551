"""Batch normalisation (Ioffe and Szegedy, "Batch Normalization", 2015), for dense and conv layers."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .layers import Layer
from .spec import fraction, shape_of


class BatchNorm(Layer):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature of x (N, D) or per channel of
    x (N, C, H, W) (statistics over N, H and W). gamma, beta, mean and var are (D,) or (C,).

    Training normalises with the batch's own mean and (biased) variance and moves the running
    estimates toward them: running = momentum * running + (1 - momentum) * batch, the variance
    taken unbiased (x m / (m - 1)), as PyTorch does. Inference uses the running estimates. They are
    no parameters (nothing learns them by gradient): they live in `state`, which the model saves
    beside the parameters ("3.mean", "3.var").

    A replica under DataParallel normalises its shard with that shard's statistics (as each GPU
    does in PyTorch's DistributedDataParallel without SyncBatchNorm) but leaves the running
    estimates alone (`owns_stats` False): DataParallel pools all shards' statistics, gathered from
    every process, into the whole batch's mean and variance and updates them once
    (update_running), so they do not depend on the shard count.
    """

    kind = "batchnorm"
    spec_keys = frozenset({"momentum", "eps"})
    roles: ClassVar[dict[str, str]] = {"gamma": "scale", "beta": "shift"}
    fresh_output = statistics = True

    @classmethod
    def from_spec(cls, spec, shape, ctx):
        shape_of("batchnorm", shape, (1, 3), "a (D,) or (C, H, W) input")
        momentum, eps = fraction(spec, "momentum", 0.9), fraction(spec, "eps", 1e-5, low_open=True, high_closed=True)
        n = shape[0]
        given = ctx.given({"gamma": (n,), "beta": (n,), "mean": (n,), "var": (n,)})
        if given is not None and not ctx.share:  # parameters are copied into the flat buffer; the state here
            given = {k: v if k in ("gamma", "beta") else v.copy() for k, v in given.items()}
        return cls(n, momentum=momentum, eps=eps, dtype=ctx.dtype, weights=given)

    def __init__(self, n: int, *, momentum: float = 0.9, eps: float = 1e-5, dtype=np.float32,
                 weights: dict | None = None):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        w = weights or {}
        self.params = {"gamma": w.get("gamma", np.ones(n, dtype)), "beta": w.get("beta", np.zeros(n, dtype))}
        self.state = {"mean": w.get("mean", np.zeros(n, dtype)), "var": w.get("var", np.ones(n, dtype))}
        self.batch_stats: tuple[int, np.ndarray, np.ndarray] | None = None  # (count, mean, var) of the last batch
        self._alloc_grads()

    @staticmethod
    def _layout(x: np.ndarray) -> tuple[int, tuple[int, ...]]:
        """(values per feature in the batch, the shape a per-feature vector broadcasts as)."""
        return (len(x), (1, -1)) if x.ndim == 2 else (x.size // x.shape[1], (1, -1, 1, 1))

    def _sums(self, a: np.ndarray, name: str) -> np.ndarray:
        """Per-feature sums of a (N, D) or (N, C, H, W), as matrix-vector products with a ones
        vector, which BLAS runs faster than a.sum(axis=(0, 2, 3)), NCHW and channels-last alike."""
        if a.ndim == 2:
            return self._buffer(name, (len(a),), a.dtype, fill=1) @ a
        n, c, h, w = a.shape
        if a.transpose(0, 2, 3, 1).flags.c_contiguous:  # channels-last in memory: one (N*H*W, C) matrix
            return self._buffer(name, (n * h * w,), a.dtype, fill=1) @ a.transpose(0, 2, 3, 1).reshape(-1, c)
        per_image = a.reshape(n * c, h * w) @ self._buffer(name + "_hw", (h * w,), a.dtype, fill=1)
        return self._buffer(name, (n,), a.dtype, fill=1) @ per_image.reshape(n, c)

    def forward(self, x, *, train):
        m, shape = self._layout(x)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not train:  # one multiply-add with the running statistics folded in
            scale = gamma / np.sqrt(self.state["var"] + self.eps)
            y = x * scale.reshape(shape)
            y += (beta - self.state["mean"] * scale).reshape(shape)
            return y
        mean = self._sums(x, "ones") / m
        x_hat = x - mean.reshape(shape)
        var = self._sums(np.square(x_hat), "ones") / m
        self.inv_std = (1 / np.sqrt(var + self.eps)).astype(x.dtype)
        x_hat *= self.inv_std.reshape(shape)
        self.x_hat = x_hat
        self.batch_stats = (m, mean, var)
        if self.owns_stats:
            self.update_running([self.batch_stats])
        y = x_hat * gamma.reshape(shape)
        y += beta.reshape(shape)
        return y

    def backward(self, dy):
        m, shape = self._layout(dy)
        dbeta = self._sums(dy, "ones")
        dgamma = self._sums(dy * self.x_hat, "ones")
        self.grads["beta"][...] = dbeta
        self.grads["gamma"][...] = dgamma
        if not self.input_grad:
            return None
        # dx = gamma / sqrt(var + eps) * (dy - sum(dy) / m - x_hat sum(dy x_hat) / m), sums over the batch axes
        dx = self.x_hat * (dgamma / m).reshape(shape)
        dx += (dbeta / m).reshape(shape)
        np.subtract(dy, dx, out=dx)
        dx *= (self.params["gamma"] * self.inv_std).reshape(shape)
        return dx

    def update_running(self, stats: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
        """Move the running estimates toward the pooled statistics of `stats`, one (count, mean,
        biased var) per part of a batch: the whole batch's mean and variance. In place, so replicas
        sharing these arrays see the update."""
        n = sum(count for count, _, _ in stats)
        mean = sum(count * m for count, m, _ in stats) / n
        var = sum(count * (v + np.square(m - mean)) for count, m, v in stats) / n
        keep = self.momentum
        self.state["mean"] *= keep
        self.state["mean"] += (1 - keep) * mean
        self.state["var"] *= keep
        self.state["var"] += (1 - keep) * var * (n / max(n - 1, 1))

    def out_shape(self, in_shape):
        n = self.params["gamma"].shape[0]
        if len(in_shape) not in (1, 3) or in_shape[0] != n:
            raise ValueError(f"batchnorm of {n} features expects input ({n},) or ({n}, H, W), got {in_shape}")
        return in_shape

    def config(self):
        return {"type": self.kind, "momentum": self.momentum, "eps": self.eps}

    def onnx(self, x, out, prefix):
        return [("BatchNormalization", [x, *(f"{prefix}{k}" for k in ("gamma", "beta", "mean", "var"))], [out],
                 {"epsilon": self.eps})]

    def pool_statistics(self, stats):
        self.update_running(stats)
