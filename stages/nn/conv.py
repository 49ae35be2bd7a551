"""Conv2D and MaxPool2D in NCHW, vectorised with stride tricks (im2col) and GEMMs.

The API is NCHW, but Conv2D lays its output out channels-last in memory (NHWC) and hands back an
NCHW *view* of it, as PyTorch's channels_last does. Element-wise layers keep that layout, and the
next im2col then copies whole runs of channels at a time. The only Python loops run over kernel
offsets (kh * kw of them), never over pixels or samples.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .init import initialise
from .layers import Layer


def _out_size(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


class Conv2D(Layer):
    """x (N, C, H, W) * W (O, C, kh, kw) + b (O,) -> y (N, O, Ho, Wo), zero padding, any stride."""

    kind = "conv2d"

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, *, stride: int = 1, padding: int = 0,
                 init: str = "he_normal", rng: np.random.Generator | None = None, dtype=np.float32,
                 weights: dict | None = None):
        super().__init__()
        self.k, self.stride, self.pad, self.init = kernel, stride, padding, init
        if weights is None:
            rng = rng if rng is not None else np.random.default_rng(0)
            weights = {"W": initialise(init, (c_out, c_in, kernel, kernel), rng, dtype), "b": np.zeros(c_out, dtype)}
        self.params = weights
        self._alloc_grads()
        self._padded = None  # reused zero-bordered NHWC input buffer: only its interior is rewritten

    def _pad(self, xh: np.ndarray) -> np.ndarray:
        """(N, H, W, C) -> (N, H + 2p, W + 2p, C) with zero borders."""
        p = self.pad
        if not p:
            return xh
        n, h, w, c = xh.shape
        shape = (n, h + 2 * p, w + 2 * p, c)
        if self._padded is None or self._padded.shape != shape or self._padded.dtype != xh.dtype:
            self._padded = np.zeros(shape, xh.dtype)
        self._padded[:, p:p + h, p:p + w] = xh
        return self._padded

    def _wmat(self) -> np.ndarray:
        """Weights as (O, kh * kw * C), matching the column order of im2col."""
        w = self.params["W"]
        return w.transpose(0, 2, 3, 1).reshape(len(w), -1)

    def forward(self, x, *, train):
        n, c, h, w = x.shape
        k, s = self.k, self.stride
        ho, wo = _out_size(h, k, s, self.pad), _out_size(w, k, s, self.pad)
        self.x_shape = x.shape
        xp = self._pad(x.transpose(0, 2, 3, 1))
        win = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, Ho, Wo, C, kh, kw)
        # cols (N*Ho*Wo, kh*kw*C): one contiguous copy of every window, the GEMM's left operand
        self.cols = win.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, k * k * c)
        y = self.cols @ self._wmat().T
        y += self.params["b"]
        return y.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)

    def backward(self, dy):
        n, c, h, w = self.x_shape
        k, s, p = self.k, self.stride, self.pad
        o, ho, wo = dy.shape[1:]
        dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, o)  # free when dy is channels-last
        self.grads["W"][...] = (dy_mat.T @ self.cols).reshape(o, k, k, c).transpose(0, 3, 1, 2)
        np.sum(dy_mat, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        # col2im as one small GEMM per kernel offset, each added into a strided block of dx whose
        # rows are contiguous runs of Wo * C values (a scatter of C-sized runs is ~4x slower)
        dxp = np.zeros((n, h + 2 * p, w + 2 * p, c), dtype=dy.dtype)
        wt = self.params["W"].transpose(2, 3, 0, 1)  # (kh, kw, O, C)
        for i in range(k):
            for j in range(k):
                dxp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s] += (dy_mat @ wt[i, j]).reshape(n, ho, wo, c)
        return dxp[:, p:p + h, p:p + w].transpose(0, 3, 1, 2)

    def out_shape(self, in_shape):
        c, h, w = in_shape
        if c != self.params["W"].shape[1]:
            raise ValueError(f"conv2d expects {self.params['W'].shape[1]} input channels, got {c}")
        ho, wo = _out_size(h, self.k, self.stride, self.pad), _out_size(w, self.k, self.stride, self.pad)
        if ho < 1 or wo < 1:
            raise ValueError(f"conv2d kernel {self.k} does not fit input {h}x{w} (padding {self.pad})")
        return (self.params["W"].shape[0], ho, wo)

    def config(self):
        return {"type": self.kind, "filters": int(self.params["W"].shape[0]), "kernel": self.k,
                "stride": self.stride, "padding": self.pad, "init": self.init}


class MaxPool2D(Layer):
    """Max over (size x size) windows with `stride` (default size): (N, C, H, W) -> (N, C, Ho, Wo).

    Works window offset by window offset: a running maximum over the kh * kw strided slices of x,
    each the size of the output, so no window array is ever built. Backward routes each window's
    dy to the first offset holding its maximum, so a tie gets the gradient once, not twice.
    """

    kind = "maxpool2d"

    def __init__(self, size: int = 2, stride: int | None = None):
        super().__init__()
        self.size, self.stride = size, stride or size

    def _slices(self, ho: int, wo: int):
        k, s = self.size, self.stride
        for i in range(k):
            for j in range(k):
                yield (slice(None), slice(None), slice(i, i + s * (ho - 1) + 1, s), slice(j, j + s * (wo - 1) + 1, s))

    def forward(self, x, *, train):
        _, _, h, w = x.shape
        ho, wo = _out_size(h, self.size, self.stride, 0), _out_size(w, self.size, self.stride, 0)
        slices = self._slices(ho, wo)
        y = x[next(slices)].copy()
        for sl in slices:
            np.maximum(y, x[sl], out=y)
        self.x, self.y = x, y
        return y

    def backward(self, dy):
        x, y = self.x, self.y
        dx = np.zeros_like(x)  # keeps x's memory layout (channels-last after a conv); edges stay 0
        unclaimed = np.ones(y.shape, dtype=bool)  # windows whose maximum has not been routed yet
        hit = np.empty(y.shape, dtype=bool)
        for sl in self._slices(*y.shape[2:]):
            np.equal(x[sl], y, out=hit)
            hit &= unclaimed
            unclaimed ^= hit
            if self.stride < self.size:  # overlapping windows share inputs: accumulate
                dx[sl] += dy * hit
            else:
                np.multiply(dy, hit, out=dx[sl])
        return dx

    def out_shape(self, in_shape):
        c, h, w = in_shape
        ho, wo = _out_size(h, self.size, self.stride, 0), _out_size(w, self.size, self.stride, 0)
        if ho < 1 or wo < 1:
            raise ValueError(f"maxpool2d size {self.size} does not fit input {h}x{w}")
        return (c, ho, wo)

    def config(self):
        return {"type": self.kind, "size": self.size, "stride": self.stride}
