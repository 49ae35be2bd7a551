"""Property tests: random bytes, truncations and header values either load or raise our own error."""

import gzip
import io
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnet import modelfile
from scratchnet.data.idx import idx_bytes, read_idx
from scratchnet.errors import DataError, ModelFormatError
from scratchnet.nn import build

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
BOUND = 1 << 20


def _read(path, data):
    path.write_bytes(data)
    try:
        return read_idx(path, max_bytes=BOUND)
    except DataError:
        return None


@FUZZ
@given(data=st.binary(max_size=300), gz=st.booleans())
def test_random_bytes(tmp_path, data, gz):
    _read(tmp_path / ("f.gz" if gz else "f"), gzip.compress(data) if gz else data)


@FUZZ
@given(dims=st.lists(st.integers(0, 2 ** 32 - 1), min_size=0, max_size=5), ndim=st.integers(0, 255),
       dtype=st.integers(0, 255), body=st.binary(max_size=64))
def test_random_headers(tmp_path, dims, ndim, dtype, body):
    header = bytes([0, 0, dtype, ndim]) + b"".join(struct.pack(">I", d) for d in dims)
    array = _read(tmp_path / "f", header + body)
    if array is not None:  # only a self-consistent header loads
        assert dtype == 8 and ndim == len(dims) and array.shape == tuple(dims) and array.size == len(body)


@FUZZ
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), cut=st.integers(0, 10_000), gz=st.booleans())
def test_random_truncations(tmp_path, shape, cut, gz):
    good = idx_bytes(np.arange(np.prod(shape), dtype=np.uint8).reshape(shape))
    data = gzip.compress(good) if gz else good
    cut = cut % (len(data) + 1)
    array = _read(tmp_path / ("f.gz" if gz else "f"), data[:cut])
    assert (array is not None) == (cut == len(data))


def test_memory_stays_within_the_bound(tmp_path):
    """A tiny .gz that claims a shape under the bound but inflates far beyond it."""
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"\x00\x00\x08\x01" + struct.pack(">I", BOUND))
        for _ in range(64):
            f.write(bytes(1 << 20))
    tracemalloc.start()
    with pytest.raises(DataError, match="longer than"):
        read_idx(path, max_bytes=BOUND)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * BOUND


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    model = build([{"type": "flatten"}, {"type": "dense", "units": 3}], (1, 2, 2), 3, np.random.default_rng(0))
    modelfile.save(model, folder, classes=[0, 1, 2])
    return (folder / "model.npz").read_bytes(), (folder / "model.json").read_text()


def _load(folder, npz, manifest):
    folder.mkdir(exist_ok=True)
    (folder / "model.npz").write_bytes(npz)
    (folder / "model.json").write_text(manifest)
    try:
        modelfile.load(folder)
        return True
    except ModelFormatError:
        return False


@FUZZ
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_model_loader_damaged_npz(tmp_path, model_files, cut, flip, byte):
    npz, manifest = model_files
    damaged = bytearray(npz[: cut % (len(npz) + 1)])
    if damaged:
        damaged[flip % len(damaged)] = byte
    _load(tmp_path / "m", bytes(damaged), manifest)


@FUZZ
@given(text=st.text(max_size=200))
def test_model_loader_random_manifest(tmp_path, model_files, text):
    npz, _ = model_files
    assert not _load(tmp_path / "m", npz, text)


@FUZZ
@given(version=st.one_of(st.integers(), st.text(max_size=5), st.none()),
       shape=st.lists(st.integers(-3, 2 ** 31), max_size=4), arch=st.sampled_from(["[]", "[{}]", '"x"', "[{\"type\": \"dense\", \"units\": -1}]"]))
def test_model_loader_random_manifest_values(tmp_path, model_files, version, shape, arch):
    import json

    npz, manifest = model_files
    doc = json.loads(manifest)
    doc["format_version"] = version
    doc["input_shape"] = shape
    doc["architecture"] = json.loads(arch)
    assert not _load(tmp_path / "m", npz, json.dumps(doc))


def test_random_zip_members_are_refused(tmp_path, model_files):
    _, manifest = model_files
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("0.W.npy", b"\x93NUMPY garbage")
        z.writestr("0.b.npy", b"")
    assert not _load(tmp_path / "m", buf.getvalue(), manifest)
