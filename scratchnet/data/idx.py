"""Strict reader and writer for the IDX format that MNIST ships in.

Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then each
dimension as a big-endian uint32, then the data in C order. Files may be gzip-compressed; the reader
never decompresses more than the header declares, so a decompression bomb cannot exhaust memory.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
MAX_DATA_BYTES = 1 << 31  # 2 GiB: far above any digit dataset, far below a bomb's ambitions


def _open(path: Path):
    with open(path, "rb") as f:
        head = f.read(2)
    if head == GZIP_MAGIC:
        return gzip.open(path, "rb")
    if path.suffix == ".gz":
        raise DataError(f"{path}: named .gz but is not a gzip file")
    return open(path, "rb")


def _read_exact(stream, n: int, path: Path, what: str) -> bytes:
    try:
        data = stream.read(n)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip stream while reading {what} ({e})") from None
    if len(data) != n:
        raise DataError(f"{path}: truncated: {what} needs {n} bytes, file has {len(data)}")
    return data


def read_idx(path: Path | str, *, max_bytes: int = MAX_DATA_BYTES) -> np.ndarray:
    """Read an unsigned-byte IDX file (optionally gzipped) into a uint8 array of its declared shape."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with _open(path) as stream:
        magic = _read_exact(stream, 4, path, "the magic number")
        if magic[:2] != b"\x00\x00" or magic[2] != UBYTE or not 1 <= magic[3] <= 4:
            raise DataError(
                f"{path}: wrong magic number 0x{magic.hex()} "
                "(expected 0x000008NN: unsigned bytes, 1 to 4 dimensions)"
            )
        ndim = magic[3]
        dims = struct.unpack(f">{ndim}I", _read_exact(stream, 4 * ndim, path, "the dimensions"))
        if dims[0] == 0:
            raise DataError(f"{path}: holds zero items")
        size = int(np.prod(dims, dtype=np.int64))
        if size > max_bytes:
            raise DataError(f"{path}: declared shape {dims} needs {size} bytes, above the {max_bytes} bound")
        data = _read_exact(stream, size, path, f"the data of shape {dims}")
        try:
            extra = stream.read(1)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip stream after the data ({e})") from None
        if extra:
            raise DataError(f"{path}: longer than its declared shape {dims}")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array (1 to 4 dims) as IDX bytes."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 4:
        raise ValueError("IDX writer takes uint8 arrays of 1 to 4 dimensions")
    header = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()
