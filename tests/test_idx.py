import gzip
import struct

import numpy as np
import pytest

from scratchnet.data.idx import idx_bytes, read_idx
from scratchnet.errors import DataError


def test_roundtrip_plain_and_gzip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(a))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(a)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), a)


def test_mnist_real_file_header(mnist):
    labels = read_idx(mnist / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.max() == 9
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


GOOD = idx_bytes(np.ones((3, 2, 2), np.uint8))


@pytest.mark.parametrize("data, message", [
    (GOOD[:-1], "truncated"),
    (GOOD[:10], "truncated"),
    (b"\x00\x00\x09\x03" + GOOD[4:], "wrong magic"),
    (b"\x08\x00\x08\x03" + GOOD[4:], "wrong magic"),
    (b"\x00\x00\x08\x07" + GOOD[4:], "wrong magic"),
    (b"\x00\x00\x08\x03" + struct.pack(">3I", 1000, 28, 28) + GOOD[16:], "truncated"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 0), "zero items"),
    (GOOD + b"\x00", "longer than"),
    (b"", "truncated"),
])
def test_corrupt_files_are_refused(tmp_path, data, message):
    path = tmp_path / "bad"
    path.write_bytes(data)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def test_not_gzip_but_named_gz(tmp_path):
    (tmp_path / "x.gz").write_bytes(GOOD)
    with pytest.raises(DataError, match="not a gzip"):
        read_idx(tmp_path / "x.gz")


def test_corrupt_gzip_stream(tmp_path):
    blob = bytearray(gzip.compress(idx_bytes(np.arange(4000, dtype=np.uint8).reshape(4, 1000) % 7)))
    blob[20:40] = b"\xff" * 20
    (tmp_path / "x.gz").write_bytes(bytes(blob))
    with pytest.raises(DataError, match="corrupt gzip|truncated|longer"):
        read_idx(tmp_path / "x.gz")


def test_decompression_bomb_reads_only_declared_size(tmp_path):
    # header says 1 x 10 bytes, then 200 MB of zeros compress to ~200 KB
    header = b"\x00\x00\x08\x01" + struct.pack(">I", 10)
    with gzip.open(tmp_path / "bomb.gz", "wb") as f:
        f.write(header)
        for _ in range(200):
            f.write(bytes(1 << 20))
    with pytest.raises(DataError, match="longer than"):
        read_idx(tmp_path / "bomb.gz")


def test_declared_size_above_bound(tmp_path):
    (tmp_path / "big").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 100000, 1000, 1000))
    with pytest.raises(DataError, match="bound"):
        read_idx(tmp_path / "big")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")
