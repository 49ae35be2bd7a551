import json

import numpy as np
import pytest

from scratchnet.data.splits import load_split
from scratchnet.errors import DataError, ParamsError
from stages.fetch import fetch
from stages.preprocess import preprocess
from tests.support.data import make_dataset, write_dataset


@pytest.fixture
def raw(tiny_idx, tmp_path):
    fetch(out_dir=tmp_path / "raw", dataset="idx", source=str(tiny_idx))
    return tmp_path / "raw"


def test_outputs(raw, tmp_path):
    meta = preprocess(raw_dir=raw, out_dir=tmp_path / "prep", val_size=12, seed=3)
    assert meta["num_classes"] == 3 and meta["image_shape"] == [6, 5]
    sizes = {s: load_split(tmp_path / "prep" / f"{s}.npz") for s in ("train", "val", "test")}
    assert [len(sizes[s]["x"]) for s in ("train", "val", "test")] == [48, 12, 20]
    for split in sizes.values():
        assert split["x"].dtype == np.float32 and split["y"].dtype == np.float32
        assert split["x"].min() >= 0 and split["x"].max() <= 1
        assert split["y"].shape[1] == 3 and (split["y"].sum(1) == 1).all()
        np.testing.assert_array_equal(split["y"].argmax(1), split["labels"])
    saved = json.loads((tmp_path / "prep" / "meta.json").read_text())
    assert saved["splits"]["val"]["shape"] == [12, 6, 5]
    assert sum(saved["splits"]["train"]["class_counts"]) == 48
    assert set(saved["input_sha256"]) == {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}


def test_split_is_seeded_and_disjoint(raw, tmp_path):
    preprocess(raw_dir=raw, out_dir=tmp_path / "a", val_size=0.25, seed=1)
    preprocess(raw_dir=raw, out_dir=tmp_path / "b", val_size=0.25, seed=1)
    preprocess(raw_dir=raw, out_dir=tmp_path / "c", val_size=0.25, seed=2)
    read = lambda d: (tmp_path / d / "val.npz").read_bytes()
    assert read("a") == read("b") != read("c")
    train, val = load_split(tmp_path / "a" / "train.npz"), load_split(tmp_path / "a" / "val.npz")
    rows = {r.tobytes() for r in train["x"]}
    assert not any(r.tobytes() in rows for r in val["x"])
    assert len(val["x"]) == 15


def test_val_size_zero(raw, tmp_path):
    preprocess(raw_dir=raw, out_dir=tmp_path / "p", val_size=0)
    assert len(load_split(tmp_path / "p" / "val.npz")["x"]) == 0


def test_val_size_too_large(raw, tmp_path):
    with pytest.raises(ParamsError, match="val_size"):
        preprocess(raw_dir=raw, out_dir=tmp_path / "p", val_size=60)
    assert not (tmp_path / "p").exists()


def test_label_count_mismatch(tmp_path):
    arrays = make_dataset()
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:-1]
    write_dataset(tmp_path / "raw", arrays)
    with pytest.raises(DataError, match="60 images but 59 labels"):
        preprocess(raw_dir=tmp_path / "raw", out_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_labels_out_of_range(tmp_path):
    arrays = make_dataset()
    arrays["t10k-labels-idx1-ubyte"][0] = 7
    write_dataset(tmp_path / "raw", arrays)
    with pytest.raises(DataError, match="label 7 out of range for 3 classes"):
        preprocess(raw_dir=tmp_path / "raw", out_dir=tmp_path / "p")


def test_missing_raw(tmp_path):
    with pytest.raises(DataError, match="run `scratchnet fetch`"):
        preprocess(raw_dir=tmp_path / "nothing", out_dir=tmp_path / "p")


def test_images_not_3d(tmp_path):
    arrays = make_dataset()
    arrays["train-images-idx3-ubyte"] = arrays["train-images-idx3-ubyte"].reshape(60, -1)
    write_dataset(tmp_path / "raw", arrays)
    with pytest.raises(DataError, match="3 dimensions"):
        preprocess(raw_dir=tmp_path / "raw", out_dir=tmp_path / "p")


def test_load_split_refuses_pickles(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.array([object()], dtype=object), y=np.zeros(1), labels=np.zeros(1))
    with pytest.raises(DataError, match="not a readable"):
        load_split(tmp_path / "x.npz")


def test_real_mnist(mnist, tmp_path):
    fetch(out_dir=tmp_path / "raw", source=str(mnist))
    meta = preprocess(raw_dir=tmp_path / "raw", out_dir=tmp_path / "p")
    assert meta["splits"]["test"]["class_counts"] == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert meta["splits"]["train"]["shape"] == [55000, 28, 28]
