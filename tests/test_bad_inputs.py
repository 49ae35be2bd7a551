"""Each bad input: one clear line naming the problem, exit 1, and every earlier output untouched."""

import pytest

from tests.support.bad_inputs import CASES, make_sandbox, run_case

EXPECT = {
    "IDX: truncated file": "truncated", "IDX: wrong magic number": "wrong magic number",
    "IDX: dimensions larger than the file": "truncated", "IDX: zero images": "zero items",
    "IDX: labels out of range": "out of range for 3 classes", "IDX: image/label count mismatch": "60 images but 59 labels",
    "IDX: corrupt gzip stream": "gzip", "IDX: not gzip but named .gz": "not a gzip file",
    "IDX: decompression bomb (10 KB .gz, 64 MB inflated)": "longer than its declared shape",
    "IDX: file missing": "missing t10k-images-idx3-ubyte",
    "params: unknown key": "train.colour: unknown key", "params: wrong type": "train.batch_size: got 'big'",
    "params: negative learning rate": "train.lr: got -0.1", "params: zero batch size": "train.batch_size: got 0",
    "params: zero epochs": "train.epochs: got 0",
    "params: rotation over 45 degrees": "train.augment_rotate: got 90.0, expected float >= 0.0 and <= 45.0",
    "params: negative scale jitter": "train.augment_scale: got -0.1, expected float >= 0.0 and <= 0.5",
    "params: unknown preset": "train.model: got 'resnet50', allowed:",
    "params: unknown optimizer": "train.optimizer: got 'rmsprop', allowed:", "params: unknown layer": "type: got 'lstm', allowed:",
    "params: layer shapes do not fit": "put a flatten layer before it",
    "params: batchnorm momentum of 1": "momentum: expected a number in [0, 1), got 1",
    "params: batchnorm with one image per shard": "batchnorm needs at least 2 images in each of the 2 shards",
    "params: batchnorm eps of 0": "eps: expected a number in (0, 1], got 0",
    "params: val_size larger than the training set": "preprocess.val_size",
    "params: fewer than 100 negatives": "negatives.count: got 5, expected int >= 100",
    "missing input: negatives before preprocess": "run `scratchnet preprocess`",
    "detector: negatives of another image size": "non-digits of (28, 28) but the model reads (8, 8)",
    "detector: truncated negatives .npz": "cannot read the non-digits",
    "params: misspelled section (trian:)": "unknown section 'trian' (did you mean 'train'?)",
    "params: YAML syntax error": "not valid YAML at line 3, column",
    "params: another stage's key in --set": "evaluate.batch_size belongs to the evaluate stage: `scratchnet evaluate --set batch_size=...` by hand",
    "prepared split: truncated .npz": "not a readable .npz", "prepared split: one bit flipped": "not a readable .npz",
    "prepared split: test .npz truncated": "not a readable .npz",
    "predict: truncated .npz": "not a readable .npz", "predict: .npz with one bit flipped": "not a readable .npz",
    "model: missing array": "missing ['1.b']", "model: shape disagrees with manifest": "1.W",
    "model: newer format version": "format version 2 is not supported",
    "model: .npz holding a pickled object": "pickled object", "model: truncated .npz": "not a readable .npz",
    "model: trained on images of another size": "the model takes (1, 28, 28)",
    "image: not an image": "not an image", "image: empty file": "empty file", "image: animated GIF": "2 frames",
    "image: huge (9000x9000)": "pixel bound", "image: blank page": "looks blank",
    "missing input: train before preprocess": "run `scratchnet preprocess`",
    "missing input: evaluate before train": "run `scratchnet train`",
    "missing input: preprocess before fetch": "run `scratchnet fetch`",
}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    return make_sandbox(tmp_path_factory.mktemp("bad") / "sandbox")


def test_every_case_has_an_expectation():
    assert set(EXPECT) == set(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(sandbox, name):
    r = run_case(name, sandbox)
    assert r["exit"] == 1, r["output"]
    assert len(r["lines"]) == 1 and r["lines"][0].startswith("error: "), r["output"]
    assert "Traceback" not in r["output"]
    assert EXPECT[name] in r["lines"][0], r["lines"][0]
    assert r["untouched"]
