"""Conv2D and MaxPool2D in NCHW, vectorised with stride tricks (im2col) and GEMMs.

The only Python loops run over kernel offsets (kh * kw of them), never over pixels or samples.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .init import initialise
from .layers import Layer


def _out_size(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def _windows(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """(N, C, H, W) -> view (N, C, Ho, Wo, kh, kw) of every kernel window."""
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]


class Conv2D(Layer):
    """x (N, C, H, W) * W (O, C, kh, kw) + b (O,) -> y (N, O, Ho, Wo), zero padding, any stride."""

    kind = "conv2d"

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, *, stride: int = 1, padding: int = 0,
                 init: str = "he_normal", rng: np.random.Generator | None = None, dtype=np.float32):
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng(0)
        self.k, self.stride, self.pad, self.init = kernel, stride, padding, init
        self.params = {"W": initialise(init, (c_out, c_in, kernel, kernel), rng, dtype),
                       "b": np.zeros(c_out, dtype)}
        self._alloc_grads()

    def forward(self, x, *, train):
        n, c, h, w = x.shape
        k, s, p = self.k, self.stride, self.pad
        self.x_shape = x.shape
        if p:
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        ho, wo = _out_size(h, k, s, p), _out_size(w, k, s, p)
        # cols (N*Ho*Wo, C*k*k): one contiguous copy of every window, the GEMM's left operand
        self.cols = _windows(x, k, k, s).transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * k * k)
        wmat = self.params["W"].reshape(len(self.params["W"]), -1)
        y = self.cols @ wmat.T
        y += self.params["b"]
        return y.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)

    def backward(self, dy):
        n, c, h, w = self.x_shape
        k, s, p = self.k, self.stride, self.pad
        o, _, ho, wo = dy.shape
        dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, dy.shape[1])  # (N*Ho*Wo, O)
        wmat = self.params["W"].reshape(dy.shape[1], -1)
        np.matmul(dy_mat.T, self.cols, out=self.grads["W"].reshape(dy.shape[1], -1))
        np.sum(dy_mat, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        dcols = (dy_mat @ wmat).reshape(n, ho, wo, c, k, k)
        dx = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dy.dtype)
        for i in range(k):
            for j in range(k):
                dx[:, :, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return dx[:, :, p:p + h, p:p + w] if p else dx

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
    """Max over (size x size) windows with `stride` (default size): (N, C, H, W) -> (N, C, Ho, Wo)."""

    kind = "maxpool2d"

    def __init__(self, size: int = 2, stride: int | None = None):
        super().__init__()
        self.size, self.stride = size, stride or size

    def forward(self, x, *, train):
        k, s = self.size, self.stride
        self.x_shape = x.shape
        win = _windows(x, k, k, s)
        flat = win.reshape(*win.shape[:4], k * k)
        # argmax picks one winner per window, so tied maxima get the gradient once, not twice
        self.arg = flat.argmax(axis=-1)
        return np.take_along_axis(flat, self.arg[..., None], axis=-1)[..., 0]

    def backward(self, dy):
        k, s = self.size, self.stride
        n, c, h, w = self.x_shape
        ho, wo = dy.shape[2:]
        dx = np.zeros(self.x_shape, dtype=dy.dtype)
        for i in range(k):
            for j in range(k):
                hit = self.arg == i * k + j
                dx[:, :, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s] += np.where(hit, dy, 0)
        return dx

    def out_shape(self, in_shape):
        c, h, w = in_shape
        ho, wo = _out_size(h, self.size, self.stride, 0), _out_size(w, self.size, self.stride, 0)
        if ho < 1 or wo < 1:
            raise ValueError(f"maxpool2d size {self.size} does not fit input {h}x{w}")
        return (c, ho, wo)

    def config(self):
        return {"type": self.kind, "size": self.size, "stride": self.stride}
