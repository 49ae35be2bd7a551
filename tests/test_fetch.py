import functools
import gzip
import http.server
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from scratchnet.data.idx import idx_bytes, read_idx
from scratchnet.data.raw import FILES
from scratchnet.data.sources import MNIST_SHA256
from scratchnet.errors import DataError
from stages.fetch import fetch
from tests.support.data import make_dataset, write_dataset


@pytest.fixture
def http_dirs(tmp_path):
    """Serve tmp_path/<name> folders over HTTP on 127.0.0.1; yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path / "www"))
    (tmp_path / "www").mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path / "www", f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_local_idx_dataset_records_checksums(tiny_idx, tmp_path):
    record = fetch(out_dir=tmp_path / "raw", dataset="idx", source=str(tiny_idx))
    assert record["verified"] is False
    assert sorted(record["files"]) == sorted(FILES)
    saved = json.loads((tmp_path / "raw" / "checksums.json").read_text())
    assert record.pop("source") == str(tiny_idx)  # reported, never written: a path would differ per machine
    assert saved == record
    np.testing.assert_array_equal(read_idx(tmp_path / "raw" / FILES[0]), read_idx(tiny_idx / FILES[0]))


def test_local_gz_folder(tmp_path):
    folder = write_dataset(tmp_path / "gz", make_dataset(), gz=True)
    fetch(out_dir=tmp_path / "raw", dataset="idx", source=str(folder))
    assert (tmp_path / "raw" / "train-images-idx3-ubyte").is_file()


def test_mnist_checksums_are_enforced(tiny_idx, tmp_path):
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(out_dir=tmp_path / "raw", dataset="mnist", source=str(tiny_idx))
    assert not (tmp_path / "raw").exists()
    assert list(tmp_path.iterdir()) == [tiny_idx]  # no temp folder left behind


def test_local_mnist_mirror_verifies(mnist, tmp_path):
    record = fetch(out_dir=tmp_path / "raw", dataset="mnist", source=str(mnist))
    assert record["verified"] is True
    assert {k: v["sha256"] for k, v in record["files"].items()} == MNIST_SHA256


def test_a_relative_env_var_is_taken_from_the_checkout_even_inside_an_experiment_copy(mnist, tmp_path, monkeypatch):
    """The README's `SCRATCHNET_MNIST_DIR=../shared/data/mnist`: a queued or --temp experiment runs in
    CHECKOUT/.dvc/tmp/exps/..., where the same relative path must still mean CHECKOUT/../shared."""
    checkout = tmp_path / "work" / "checkout"
    (tmp_path / "work" / "shared" / "data").mkdir(parents=True)
    (tmp_path / "work" / "shared" / "data" / "mnist").symlink_to(mnist)
    copy = checkout / ".dvc" / "tmp" / "exps" / "standalone" / "tmp1a2b"
    copy.mkdir(parents=True)
    monkeypatch.setenv("SCRATCHNET_MNIST_DIR", "../shared/data/mnist")
    for where in (checkout, copy):
        monkeypatch.chdir(where)
        record = fetch(out_dir=tmp_path / "raw", dataset="mnist")
        assert record["verified"] and Path(record["source"]) == checkout / "../shared/data/mnist"


def test_env_var_replaces_mirrors(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_MNIST_DIR", str(mnist))
    record = fetch(out_dir=tmp_path / "raw", dataset="mnist", source="mirrors", mirrors=["http://127.0.0.1:9/"])
    assert record["verified"]


def test_digits_is_offline_and_seeded(tmp_path):
    a = fetch(out_dir=tmp_path / "a", dataset="digits", seed=1)
    b = fetch(out_dir=tmp_path / "b", dataset="digits", seed=1)
    c = fetch(out_dir=tmp_path / "c", dataset="digits", seed=2)
    assert a == b and a != c
    assert a["files"]["train-images-idx3-ubyte"]["shape"][1:] == [8, 8]
    total = a["files"]["train-labels-idx1-ubyte"]["shape"][0] + a["files"]["t10k-labels-idx1-ubyte"]["shape"][0]
    assert total == 1797


def test_mirror_download_skips_a_corrupt_mirror(mnist, http_dirs, tmp_path, monkeypatch):
    monkeypatch.delenv("SCRATCHNET_MNIST_DIR", raising=False)
    www, base = http_dirs
    shutil.copytree(mnist, www / "good")
    (www / "bad").mkdir()
    for name in FILES:  # the bad mirror serves well-formed IDX files with the wrong content
        good = read_idx(mnist / (name + ".gz"))
        (www / "bad" / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(np.ascontiguousarray(good[::-1])), compresslevel=1))
    record = fetch(out_dir=tmp_path / "raw", mirrors=[f"{base}/missing/", f"{base}/bad/", f"{base}/good/"])
    assert record["verified"]


def test_mirror_failure_leaves_nothing(http_dirs, tmp_path, monkeypatch):
    monkeypatch.delenv("SCRATCHNET_MNIST_DIR", raising=False)
    www, base = http_dirs
    (www / "bad").mkdir()
    (www / "bad" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DataError, match="train-images-idx3-ubyte: no mirror gave a good copy") as e:
        fetch(out_dir=tmp_path / "raw", mirrors=[f"{base}/bad/", f"{base}/missing/"])
    assert "corrupt gzip" in str(e.value) and "404" in str(e.value)
    assert not (tmp_path / "raw").exists()


def test_failed_fetch_keeps_previous_output(tiny_idx, tmp_path):
    fetch(out_dir=tmp_path / "raw", dataset="idx", source=str(tiny_idx))
    before = {p.name: p.read_bytes() for p in (tmp_path / "raw").iterdir()}
    (tiny_idx / FILES[1]).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")  # truncated labels
    with pytest.raises(DataError, match="truncated"):
        fetch(out_dir=tmp_path / "raw", dataset="idx", source=str(tiny_idx))
    assert {p.name: p.read_bytes() for p in (tmp_path / "raw").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "tiny"]


@pytest.mark.network
def test_openml_source(tmp_path):  # pragma: no cover - needs the internet
    import socket

    try:
        socket.create_connection(("api.openml.org", 443), timeout=3).close()
    except OSError:
        pytest.skip("no internet")
    record = fetch(out_dir=tmp_path / "raw", dataset="mnist", source="openml")
    assert record["verified"]


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_archive_source(tmp_path, kind):
    import tarfile
    import zipfile

    folder = write_dataset(tmp_path / "inner" / "mnist-like", make_dataset(), gz=kind == "zip")
    archive = tmp_path / f"data.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as z:
            for p in folder.iterdir():
                z.write(p, f"some/dir/{p.name}")
    else:
        with tarfile.open(archive, "w:gz") as t:
            t.add(folder, arcname="mnist-like")
    record = fetch(out_dir=tmp_path / "raw", dataset="idx", source=str(archive))
    assert record["files"]["train-images-idx3-ubyte"]["shape"] == [60, 6, 5]


def test_a_file_that_is_no_archive(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="not a folder, a .tar"):
        fetch(out_dir=tmp_path / "raw", dataset="idx", source=str(tmp_path / "notes.txt"))
    assert not (tmp_path / "raw").exists()
