"""Flat buffers: a model's named arrays laid out as consecutive views of one 1-D array, so an
optimizer updates them all with one ufunc call per operation instead of one per array."""

from __future__ import annotations

import numpy as np


class FlatDict(dict):
    """Named arrays that are, in order, consecutive views of one 1-D buffer `flat`."""

    def __init__(self, items: dict[str, np.ndarray], flat: np.ndarray):
        super().__init__(items)
        self.flat = flat


def flatten(dicts: list[dict[str, np.ndarray]]) -> np.ndarray | None:
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
