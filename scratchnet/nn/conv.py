"""Conv2D and MaxPool2D in NCHW, vectorised with stride tricks (im2col) and GEMMs, or for wide 3x3
layers with Winograd's minimal filtering (winograd.py).

The API is NCHW, but Conv2D lays its output out channels-last in memory (NHWC) and hands back an
NCHW *view* of it, as PyTorch's channels_last does. Element-wise layers keep that layout, and the
next im2col then copies whole runs of channels at a time. The only Python loops run over kernel
offsets (kh * kw of them), never over pixels or samples.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .init import initialise
from .layers import Layer
from .spec import init_name, integer, shape_of
from .winograd import Winograd

WINOGRAD_TILE = {"winograd2": 2, "winograd4": 4}  # algorithm -> m of F(m x m, 3 x 3)
ALGORITHMS = ("auto", "im2col", *WINOGRAD_TILE)
WINOGRAD_MIN_CHANNELS = 64  # input and output channels from which F(4x4, 3x3) wins: bench/conv_algorithms.py


def choose_algorithm(c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> str:
    """The algorithm measured fastest for a layer shape (bench/RESULTS.md): Winograd F(4x4, 3x3)
    for 3x3 stride-1 kernels (padding <= 2) with at least WINOGRAD_MIN_CHANNELS channels in and
    out, im2col for everything else. Winograd's transforms are memory-bound NumPy passes whose
    cost grows with C + O while the GEMM work it saves grows with C * O, so a narrow side on
    either end leaves im2col's single GEMM faster (bench/RESULTS.md, per layer shape)."""
    if (kernel, stride) == (3, 1) and padding <= 2 and min(c_in, c_out) >= WINOGRAD_MIN_CHANNELS:
        return "winograd4"
    return "im2col"


def _out_size(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


class Conv2D(Layer):
    """x (N, C, H, W) * W (O, C, kh, kw) + b (O,) -> y (N, O, Ho, Wo), zero padding, any stride.

    `algorithm`: "im2col" (any shape), "winograd2" or "winograd4" (F(2x2, 3x3) or F(4x4, 3x3):
    3x3 stride-1 kernels, padding <= 2; forward, weight and input gradients all by Winograd), or
    "auto" (choose_algorithm). Every algorithm computes the same function, to float32 round-off
    (bench/RESULTS.md states the error of each); the choice is not saved with the model.
    """

    kind = "conv2d"
    spec_keys = frozenset({"filters", "kernel", "stride", "padding", "init"})
    roles: ClassVar[dict[str, str]] = {"W": "weight", "b": "bias"}
    fresh_output = True

    @classmethod
    def from_spec(cls, spec, shape, ctx):
        shape_of("conv2d", shape, (3,), "a (C, H, W) input")
        filters, kernel = integer(spec, "filters"), integer(spec, "kernel", 3)
        given = ctx.given({"W": (filters, shape[0], kernel, kernel), "b": (filters,)})
        return cls(shape[0], filters, kernel, stride=integer(spec, "stride", 1), padding=integer(spec, "padding", 0, low=0),
                   init=init_name(spec), rng=ctx.rng, dtype=ctx.dtype, weights=given)

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, *, stride: int = 1, padding: int = 0,
                 init: str = "he_normal", rng: np.random.Generator | None = None, dtype=np.float32,
                 weights: dict | None = None, algorithm: str = "auto"):
        super().__init__()
        self.k, self.stride, self.pad, self.init = kernel, stride, padding, init
        if weights is None:
            rng = rng if rng is not None else np.random.default_rng(0)
            weights = {"W": initialise(init, (c_out, c_in, kernel, kernel), rng, dtype), "b": np.zeros(c_out, dtype)}
        self.params = weights
        self._alloc_grads()
        if algorithm not in ALGORITHMS:
            raise ValueError(f"conv2d algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
        if algorithm == "auto":
            algorithm = choose_algorithm(*weights["W"].shape[1::-1], kernel, stride, padding)
        if algorithm != "im2col" and ((kernel, stride) != (3, 1) or padding > 2):
            raise ValueError(f"{algorithm} needs a 3x3 kernel, stride 1 and padding <= 2")
        self.algorithm = algorithm
        self.winograd = Winograd(WINOGRAD_TILE[algorithm], self._buffer) if algorithm in WINOGRAD_TILE else None

    def _pad(self, xh: np.ndarray, p: int) -> np.ndarray:
        """(N, H, W, C) -> (N, H + 2p, W + 2p, C) with zero borders, in a reused buffer whose
        borders stay zero (only the interior is ever rewritten)."""
        if not p:
            return xh
        n, h, w, c = xh.shape
        buf = self._buffer("padded", (n, h + 2 * p, w + 2 * p, c), xh.dtype, fill=0)
        buf[:, p:p + h, p:p + w] = xh
        return buf

    def _wmat(self) -> np.ndarray:
        """Weights as (O, kh * kw * C), matching the column order of im2col."""
        w = self.params["W"]
        return w.transpose(0, 2, 3, 1).reshape(len(w), -1)

    def _im2col(self, xh: np.ndarray, pad: int) -> np.ndarray:
        """xh (N, H, W, C), channels-last -> cols (N*Ho*Wo, kh*kw*C), columns ordered (kh, kw, C)."""
        n, h, w, c = xh.shape
        k, s = self.k, self.stride
        ho, wo = _out_size(h, k, s, pad), _out_size(w, k, s, pad)
        xp = self._pad(xh, pad)
        if c == 1:
            # one channel: build the transpose, one long contiguous row per kernel offset, and
            # return its transposed view (BLAS takes either orientation at the same speed)
            rows = self._buffer("cols", (k * k, n, ho, wo), xh.dtype)
            for i in range(k):
                for j in range(k):
                    rows[i * k + j] = xp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, 0]
            return rows.reshape(k * k, -1).T
        cols = self._buffer("cols", (n, ho, wo, k, k, c), xh.dtype)
        win = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::s, ::s]  # (N, Ho, Wo, C, kh, kw)
        np.copyto(cols, win.transpose(0, 1, 2, 4, 5, 3))
        return cols.reshape(n * ho * wo, k * k * c)

    def forward(self, x, *, train):
        n, _, h, w = x.shape
        ho, wo = _out_size(h, self.k, self.stride, self.pad), _out_size(w, self.k, self.stride, self.pad)
        self.x_shape = x.shape
        xh = x.transpose(0, 2, 3, 1)
        if self.winograd is not None:
            wg = self.winograd
            self.v = wg.input_tiles(xh, self.pad, ho, wo, "fwd.")  # kept for dW
            y = np.empty((n, ho, wo, self.params["W"].shape[0]), x.dtype)
            mm = wg.products(self.v, wg.kernel(self.params["W"]), "fwd.")
            return wg.output(mm, out=y, tag="fwd.", bias=self.params["b"]).transpose(0, 3, 1, 2)
        self.cols = self._im2col(xh, self.pad)  # kept for dW
        y = self.cols @ self._wmat().T  # (N*Ho*Wo, O)
        rows = y.reshape(n * ho, -1)  # the bias added along rows of Wo*O values rather than O: NumPy's
        rows += np.tile(self.params["b"], wo)  # inner loop runs faster on long rows than on short ones
        return y.reshape(n, ho, wo, -1).transpose(0, 3, 1, 2)

    def backward(self, dy):
        if self.winograd is not None:
            return self._winograd_backward(dy)
        n, c, h, w = self.x_shape
        k, s, p = self.k, self.stride, self.pad
        o, ho, wo = dy.shape[1:]
        dy_mat = dy.transpose(0, 2, 3, 1).reshape(-1, o)  # free when dy is channels-last
        # dW = dy^T cols, multiplied in whichever orientation keeps BLAS on contiguous rows
        if self.cols.flags.c_contiguous:
            gw = dy_mat.T @ self.cols
        else:
            gw = (self.cols.T @ dy_mat).T
        self.grads["W"][...] = gw.reshape(o, k, k, c).transpose(0, 3, 1, 2)
        self._bias_grad(dy_mat)
        if not self.input_grad:
            return None
        # col2im as one GEMM per kernel offset, each added into a strided block of dx whose rows
        # are contiguous runs of Wo * C values. (Measured here: one big GEMM then a scatter of
        # C-sized runs, or dx as a full convolution of dy with the flipped kernel, are both slower.)
        dxp = self._buffer("dx", (n, h + 2 * p, w + 2 * p, c), dy.dtype)
        dxp.fill(0)
        wt = self.params["W"].transpose(2, 3, 0, 1)  # (kh, kw, O, C)
        for i in range(k):
            for j in range(k):
                dxp[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s] += (dy_mat @ wt[i, j]).reshape(n, ho, wo, c)
        return dxp[:, p:p + h, p:p + w].transpose(0, 3, 1, 2)

    def _winograd_backward(self, dy):
        """The transpose of the Winograd forward: dU = V^T dM per tile position for dW, and dx as
        the forward algorithm run on dy (padded by 2 - padding) with the kernel flipped."""
        wg, (n, c, h, w) = self.winograd, self.x_shape
        dyh = dy.transpose(0, 2, 3, 1)  # (N, Ho, Wo, O)
        du = np.matmul(self.v.transpose(0, 2, 1), wg.output_grad(dyh, "bwd."))  # (a*a, C, O)
        self.grads["W"][...] = wg.kernel_grad(du)
        self._bias_grad(dyh.reshape(-1, dyh.shape[-1]))  # free when dy is channels-last
        if not self.input_grad:
            return None
        flipped = wg.kernel(self.params["W"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, O, 3, 3)
        dx = np.empty((n, h, w, c), dy.dtype)
        tiles = wg.input_tiles(dyh, 2 - self.pad, h, w, "dx.")
        return wg.output(wg.products(tiles, flipped, "dx."), out=dx, tag="dx.").transpose(0, 3, 1, 2)

    def out_shape(self, in_shape):
        c, h, w = in_shape
        if c != self.params["W"].shape[1]:
            raise ValueError(f"conv2d expects {self.params['W'].shape[1]} input channels, got {c}")
        ho, wo = _out_size(h, self.k, self.stride, self.pad), _out_size(w, self.k, self.stride, self.pad)
        if ho < 1 or wo < 1:
            raise ValueError(f"conv2d kernel {self.k} does not fit input {h}x{w} (padding {self.pad})")
        return (self.params["W"].shape[0], ho, wo)

    def footprint(self, in_shape):
        """Input and output, plus in inference the scratch: the padded input and im2col's columns,
        or Winograd's padded input, tiles d, transformed tiles V, products M and output tiles Y."""
        (c, h, w), (o, ho, wo) = in_shape, self.out_shape(in_shape)
        if self.winograd is None:
            scratch = (h + 2 * self.pad) * (w + 2 * self.pad) * c * (self.pad > 0) + self.k * self.k * c * ho * wo
        else:
            m, a2 = self.winograd.m, self.winograd.a ** 2
            th, tw = self.winograd.tiles(ho, wo)
            scratch = (th * m + 2) * (tw * m + 2) * c + th * tw * (2 * a2 * c + a2 * o + m * m * o)
        return super().footprint(in_shape) + scratch

    def config(self):
        return {"type": self.kind, "filters": int(self.params["W"].shape[0]), "kernel": self.k,
                "stride": self.stride, "padding": self.pad, "init": self.init}

    def onnx(self, x, out, prefix):
        return [("Conv", [x, f"{prefix}W", f"{prefix}b"], [out],
                 {"kernel_shape": [self.k] * 2, "strides": [self.stride] * 2, "pads": [self.pad] * 4})]


class MaxPool2D(Layer):
    """Max over (size x size) windows with `stride` (default size): (N, C, H, W) -> (N, C, Ho, Wo).

    Forward gathers the kh * kw strided slices of x (one per window offset, each the size of the
    output) into one contiguous array and reduces over it; backward works on that same array, so
    every element-wise pass runs over contiguous memory. A window's dy goes to the first offset
    that holds its maximum: a tie gets the gradient once, not twice.
    """

    kind = "maxpool2d"
    spec_keys = frozenset({"size", "stride"})
    max_pool = True

    @classmethod
    def from_spec(cls, spec, shape, ctx):
        shape_of("maxpool2d", shape, (3,), "a (C, H, W) input")
        size = integer(spec, "size", 2)
        return cls(size, integer(spec, "stride", size))

    def __init__(self, size: int = 2, stride: int | None = None):
        super().__init__()
        self.size, self.stride = size, stride or size

    def _slices(self, ho: int, wo: int):
        k, s = self.size, self.stride
        for i in range(k):
            for j in range(k):
                yield (slice(None), slice(None), slice(i, i + s * (ho - 1) + 1, s), slice(j, j + s * (wo - 1) + 1, s))

    def forward(self, x, *, train):
        n, c, h, w = x.shape
        ho, wo = _out_size(h, self.size, self.stride, 0), _out_size(w, self.size, self.stride, 0)
        # (k*k, N, C, Ho, Wo), stored channels-last like a conv's output so each copy moves C-runs
        win = self._buffer("win", (self.size ** 2, n, ho, wo, c), x.dtype).transpose(0, 1, 4, 2, 3)
        for o, sl in enumerate(self._slices(ho, wo)):
            win[o] = x[sl]
        # the input's shape, not the input: holding it would keep the conv output before it alive
        # until the next step, when the window stack already has its values
        self.x_shape, self.win, self.y = x.shape, win, win.max(axis=0)
        return self.y

    def backward(self, dy):
        win, y = self.win, self.y
        n, c, h, w = self.x_shape
        k, (ho, wo) = self.size, y.shape[2:]
        overlap = self.stride < k
        # channels-last like the conv before it; windows that tile x exactly overwrite every value
        dx = self._buffer("dx", (n, h, w, c), dy.dtype).transpose(0, 3, 1, 2)
        if self.stride != k or (ho * k, wo * k) != (h, w):
            dx.fill(0)
        unclaimed = None  # windows whose maximum has not been routed yet
        for o, sl in enumerate(self._slices(*y.shape[2:])):
            hit = win[o] == y
            if unclaimed is None:
                unclaimed = ~hit
            elif o < len(win) - 1:
                hit &= unclaimed
                unclaimed &= ~hit
            else:
                hit &= unclaimed
            if overlap:  # overlapping windows share inputs: accumulate
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

    def footprint(self, in_shape):
        return super().footprint(in_shape) + self.size ** 2 * int(np.prod(self.out_shape(in_shape)))  # + windows

    def config(self):
        return {"type": self.kind, "size": self.size, "stride": self.stride}

    def onnx(self, x, out, prefix):
        return [("MaxPool", [x], [out], {"kernel_shape": [self.size] * 2, "strides": [self.stride] * 2})]
