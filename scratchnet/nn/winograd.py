"""Winograd minimal filtering for 3x3, stride-1 convolutions, channels-last (Lavin and Gray, "Fast
Algorithms for Convolutional Neural Networks", 2016).

F(m x m, 3 x 3) computes each m x m output tile of a correlation from an (m+2) x (m+2) input tile d:

    Y = A^T [ (G g G^T) * (B^T d B) ] A        (* element-wise, g the 3 x 3 kernel)

with (m+2)^2 multiplications per pair of input and output channels instead of 9 m^2: 2.25x fewer for
m = 2, 4x fewer for m = 4. Summed over input channels, the element-wise product becomes one GEMM
per tile position (u, v):

    M[u, v] (T, O) = V[u, v] (T, C) @ U[u, v] (C, O)        T = tiles in the batch

Tile positions (u, v) are flattened row by row, u along H and v along W. The transforms are Kronecker
products of the small matrices, each applied as one GEMM to the tiles of the whole batch, never
a loop over tiles or pixels.

The input gradient of a correlation is the correlation of dY, padded by 2 - padding, with the kernel
flipped and its channel axes swapped: the same algorithm again (Conv2D.backward).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Lavin and Gray's matrices, interpolation points 0, 1, -1 (m = 2) and 0, 1, -1, 2, -2 (m = 4).
# tests/test_winograd.py checks that each computes a 3x3 correlation to float64 round-off.
_MATRICES = {
    2: ([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]]),
    4: ([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
         [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
         [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]),
}


class Winograd:
    """F(m x m, 3 x 3) on NHWC arrays. `buffer(name, shape, dtype, fill=None)` hands out reusable
    scratch arrays (Layer._buffer); each call's `tag` keeps forward's and backward's apart.

    Each transform of an a x a tile is one matrix on the tile flattened row by row, a Kronecker
    product: vec(B^T d B) = (B^T (x) B^T) vec(d), and likewise for G and A^T. So each becomes one
    GEMM over every tile of the batch at once.
    """

    def __init__(self, m: int, buffer):
        self.m, self.a = m, m + 2
        bt, g, at = (np.array(x, np.float64) for x in _MATRICES[m])
        self.BT, self.G, self.AT = bt, g, at
        self._kron = {"B": np.kron(bt, bt), "G": np.kron(g, g), "A": np.kron(at, at)}  # (a*a, a*a), (a*a, 9), (m*m, a*a)
        self._cast: dict = {}
        self.buffer = buffer

    def _mat(self, name: str, dtype) -> np.ndarray:
        """A Kronecker transform in dtype, converted once."""
        if (name, dtype) not in self._cast:
            self._cast[name, dtype] = self._kron[name].astype(dtype)
        return self._cast[name, dtype]

    def tiles(self, ho: int, wo: int) -> tuple[int, int]:
        """(tile rows, tile columns) covering an (ho, wo) output, the last ones partial."""
        return -(-ho // self.m), -(-wo // self.m)

    def _inside(self, p: int, q: int, ho: int, wo: int) -> tuple[int, int]:
        """How many tile rows and tile columns hold an output pixel at (p, q) within their tile."""
        return len(range(p, ho, self.m)), len(range(q, wo, self.m))

    def kernel(self, w: np.ndarray) -> np.ndarray:
        """w (O, C, 3, 3) -> U (a*a, C, O) = G w G^T per channel pair, computed in float64."""
        o, c = w.shape[:2]
        u = self._kron["G"] @ w.reshape(o * c, 9).T.astype(np.float64)  # (a*a, O*C)
        return np.ascontiguousarray(u.reshape(-1, o, c).transpose(0, 2, 1), dtype=w.dtype)

    def input_tiles(self, xh: np.ndarray, pad: int, ho: int, wo: int, tag: str) -> np.ndarray:
        """xh (N, H, W, C), zero-padded by `pad` -> V (a*a, T, C) = B^T d B for every tile d of the
        (ho, wo) output, T = N * th * tw tiles in (n, tile row, tile column) order."""
        n, h, w, c = xh.shape
        m, a = self.m, self.a
        th, tw = self.tiles(ho, wo)
        # the padded input, as far as the last tile reaches. The top and left borders stay zero
        # from allocation on; below and right of the input, a smaller input than the last one
        # that shared this buffer would leave old values: zeroed on every call
        xp = self.buffer(tag + "padded", (n, th * m + 2, tw * m + 2, c), xh.dtype, fill=0)
        xp[:, pad:pad + h, pad:pad + w] = xh
        xp[:, pad + h:] = 0
        xp[:, :pad + h, pad + w:] = 0
        # every tile, overlapping its neighbours by 2, gathered in one copy: (a, a, N, th, tw, C)
        d = self.buffer(tag + "d", (a, a, n, th, tw, c), xh.dtype)
        np.copyto(d, sliding_window_view(xp, (a, a), axis=(1, 2))[:, ::m, ::m].transpose(4, 5, 0, 1, 2, 3))
        v = self.buffer(tag + "V", (a * a, n * th * tw, c), xh.dtype)
        np.matmul(self._mat("B", xh.dtype), d.reshape(a * a, -1), out=v.reshape(a * a, -1))
        return v

    def products(self, v: np.ndarray, u: np.ndarray, tag: str) -> np.ndarray:
        """V (a*a, T, C) and U (a*a, C, O) -> M (a*a, T, O): one GEMM per tile position."""
        mm = self.buffer(tag + "M", (v.shape[0], v.shape[1], u.shape[-1]), v.dtype)
        return np.matmul(v, u, out=mm)

    def output(self, mm: np.ndarray, *, out: np.ndarray, tag: str, bias: np.ndarray | None = None) -> np.ndarray:
        """M (a*a, T, O) -> out (N, ho, wo, O) = A^T M A per tile, plus bias (O,) if given (added
        while the tiles are copied out, sparing a pass over the output)."""
        m, o = self.m, mm.shape[-1]
        n, ho, wo = out.shape[:3]
        th, tw = self.tiles(ho, wo)
        y = self.buffer(tag + "Y", (m, m, n, th, tw, o), mm.dtype)
        np.matmul(self._mat("A", mm.dtype), mm.reshape(len(mm), -1), out=y.reshape(m * m, -1))
        for p in range(m):
            for q in range(m):  # output pixel (p, q) of every tile, the partial tiles cropped
                rows, cols = self._inside(p, q, ho, wo)
                tile = y[p, q, :, :rows, :cols]
                if bias is None:
                    out[:, p::m, q::m] = tile
                else:
                    np.add(tile, bias, out=out[:, p::m, q::m])
        return out

    def output_grad(self, dyh: np.ndarray, tag: str) -> np.ndarray:
        """dy (N, ho, wo, O) -> dM (a*a, T, O) = A dY A^T per tile: the transpose of output()."""
        n, ho, wo, o = dyh.shape
        m, a = self.m, self.a
        th, tw = self.tiles(ho, wo)
        # (p, q, N, th, tw, O): zero where a partial tile reaches past the output's edge
        y = self.buffer(tag + "dY", (m, m, n, th, tw, o), dyh.dtype)
        for p in range(m):
            for q in range(m):
                rows, cols = self._inside(p, q, ho, wo)
                y[p, q, :, :rows, :cols] = dyh[:, p::m, q::m]
                y[p, q, :, rows:] = 0
                y[p, q, :, :rows, cols:] = 0
        dm = self.buffer(tag + "dM", (a * a, n * th * tw, o), dyh.dtype)
        np.matmul(self._mat("A", dyh.dtype).T, y.reshape(m * m, -1), out=dm.reshape(a * a, -1))
        return dm

    def kernel_grad(self, du: np.ndarray) -> np.ndarray:
        """dU (a*a, C, O) -> dw (O, C, 3, 3): the transpose of kernel()."""
        a2, c, o = du.shape
        dw = self._kron["G"].T @ du.reshape(a2, -1).astype(np.float64)  # (9, C*O)
        return dw.reshape(3, 3, c, o).transpose(3, 2, 0, 1)
