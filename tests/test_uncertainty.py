"""The `uncertain` rule: the pictures the negatives stage makes for it, and the detector calibrated on them."""

import json
import shutil

import numpy as np
import pytest

from scratchnet import detector as uncertainty
from scratchnet.errors import ModelFormatError
from scratchnet.serving.predict import Reader
from scratchnet.vision import drawing
from scratchnet.vision.chunks import generate
from stages.negatives import negatives


def test_drawings_depend_on_seed_and_count_not_on_workers():
    one = generate(drawing.sample, 1200, 7, (28, 28), workers=1)
    two = generate(drawing.sample, 1200, 7, (28, 28), workers=2)
    assert one.dtype == np.uint8 and one.shape == (1200, 28, 28)
    assert np.array_equal(one, two)
    assert not np.array_equal(one[:500], generate(drawing.sample, 500, 8, (28, 28), workers=1))
    assert np.array_equal(one[:500], generate(drawing.sample, 500, 7, (28, 28), workers=1))  # chunk 0 is chunk 0


def test_drawings_look_like_mnist_inputs():
    x = generate(drawing.sample, 500, 0, (28, 28), workers=1).astype(np.float32) / 255
    ink = x > 0.05
    height = 28 - np.argmax(ink.any(2), 1) - np.argmax(ink.any(2)[:, ::-1], 1)
    width = 28 - np.argmax(ink.any(1), 1) - np.argmax(ink.any(1)[:, ::-1], 1)
    assert np.all(np.maximum(height, width) <= 21) and np.all(np.maximum(height, width) >= 19)  # the 20x20 box
    mass = x.sum(axis=(1, 2))
    assert mass.min() > 5  # every picture holds ink
    rows = (x.sum(axis=2) * np.arange(28)).sum(axis=1) / mass
    cols = (x.sum(axis=1) * np.arange(28)).sum(axis=1) / mass
    off = np.hypot(rows - 13.5, cols - 13.5)
    assert np.median(off) < 0.5 and np.mean(off < 1.5) > 0.95  # centre of mass at the centre (bar edge-clipped ones)
    small = generate(drawing.sample, 100, 0, (8, 8), workers=1)
    assert small.shape == (100, 8, 8)


def test_stage_writes_the_prepared_size_byte_identically(tmp_path):
    (tmp_path / "prepared").mkdir()
    (tmp_path / "prepared" / "meta.json").write_text(json.dumps({"dataset": "digits", "image_shape": [8, 8]}))
    few = {"count": 300, "printed": 120, "clutter": 40, "printed_digits": 60}
    first = negatives(data_dir=tmp_path / "prepared", out_path=tmp_path / "a.npz", seed=1, **few)
    negatives(data_dir=tmp_path / "prepared", out_path=tmp_path / "b.npz", seed=1, **few)
    assert first == {"count": 460, "digits": 60, "image_shape": [8, 8], "off": None}
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as z:
        assert z["x"].shape == (460, 8, 8) and z["x"].dtype == np.uint8 and z["digits"].shape == (60, 8, 8)
    more = negatives(data_dir=tmp_path / "prepared", out_path=tmp_path / "c.npz", seed=1, **{**few, "clutter": 80})
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "c.npz") as c:  # one kind's count leaves the others be
        assert more["count"] == 500 and np.array_equal(a["x"][:420], c["x"][:420])
        assert np.array_equal(a["digits"], c["digits"])


def _pictures(rng, n: int, kind: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 8, 8), features (n, 16)): "digits" (kind 0) hold a vertical bar, "non-digits"
    (kind 1) a horizontal one; features are noise, moved along one direction by `shift`."""
    images = rng.uniform(0, 0.2, (n, 8, 8)).astype(np.float32)
    where = rng.integers(2, 6, n)
    for i, k in enumerate(where):
        if kind == 0:
            images[i, 1:7, k] = 1
        else:
            images[i, k, 1:7] = 1
    return images, (rng.normal(0, 1, (n, 16)) + np.r_[shift, np.zeros(15)]).astype(np.float32)


def test_calibration_flags_its_rate_of_digits_and_the_outliers():
    rng = np.random.default_rng(0)
    digits, val, others = _pictures(rng, 3000, 0), _pictures(rng, 4000, 0), _pictures(rng, 2000, 1, shift=2.5)
    cal = uncertainty.calibrate(digits, others, val, np.random.default_rng(1), epochs=5, image_epochs=2,
                                batch_size=128, lr=1e-3, flag_rate=0.01)
    assert abs(uncertainty.flags(*val, cal).mean() - 0.01) < 0.002
    assert uncertainty.flags(*_pictures(rng, 4000, 0), cal).mean() < 0.02  # unseen digits
    assert uncertainty.flags(*_pictures(rng, 1000, 1, shift=2.5), cal).mean() > 0.95  # unseen non-digits
    scores = uncertainty.Rule(cal).score(*val)
    assert scores.shape == (4000,) and scores.dtype == np.float32


@pytest.mark.parametrize("damage", [
    lambda cal: cal.update({"features.0.W": cal["features.0.W"][:, :5]}),
    lambda cal: cal.update({"image.0.W": cal["image.0.W"][:3]}),
    lambda cal: cal.update({"threshold": np.zeros(2, np.float32)}),
    lambda cal: cal.pop("threshold"),
    lambda cal: cal.pop("image_shape"),
    lambda cal: cal.update({"image_shape": np.array([6, 5])}),  # a detector for other images
    lambda cal: cal.update({"mean": np.zeros(67, np.float32), "scale": np.ones(67, np.float32),
                            "features.0.W": np.zeros((67, 128), np.float32)}),  # another model's detector
])
def test_a_calibration_that_does_not_fit_is_refused(digits_model, tmp_path, damage):
    export, rule = tmp_path / "export", tmp_path / "detector" / uncertainty.FILE
    shutil.copytree(digits_model, export)
    with np.load(uncertainty.beside(digits_model)) as z:
        cal = dict(z)
    damage(cal)
    rule.parent.mkdir()
    np.savez(rule, **cal)
    with pytest.raises(ModelFormatError, match="not a readable calibration"):
        Reader.load(export, rule)
    assert uncertainty.beside(export) == rule  # and where predict looks by default


def test_a_missing_detector_names_the_stage_that_makes_it(digits_model, tmp_path):
    shutil.copytree(digits_model, tmp_path / "export")
    with pytest.raises(ModelFormatError, match=r"uncertainty.npz: not found \(run `scratchnet detector`"):
        Reader.load(tmp_path / "export")


@pytest.mark.parametrize(("dataset", "setting", "drawn"), [
    ("mnist", "auto", True), ("digits", "auto", True), ("idx", "auto", False), (None, "auto", False),
    ("idx", True, True), ("mnist", False, False),
])
def test_non_digits_are_drawn_for_digit_datasets_unless_the_param_says(tmp_path, dataset, setting, drawn):
    (tmp_path / "meta.json").write_text(json.dumps({"dataset": dataset, "image_shape": [8, 8]}))
    r = negatives(data_dir=tmp_path, out_path=tmp_path / "n.npz", count=100, printed=20, clutter=10, printed_digits=10,
                  detector=setting)
    with np.load(tmp_path / "n.npz", allow_pickle=False) as z:
        assert len(z["x"]) == (130 if drawn else 0) and z["x"].shape[1:] == (8, 8)
        assert len(z["digits"]) == (10 if drawn else 0) and z["digits"].shape[1:] == (8, 8)
        assert ("off" in z.files) == (not drawn) and (r["off"] is None) == drawn
    if not drawn:
        assert "negatives.detector" in r["off"]  # the reason names the switch


def test_a_dataset_of_shapes_gets_no_detector_and_cards_that_say_so(tmp_path):
    """A three-class IDX dataset that is not digits: the rule is off, nothing is flagged, and both
    cards say what the model and the detector were built on."""
    from tests.support.data import make_dataset, write_dataset
    from tests.support.repo import run_pipeline

    folder = write_dataset(tmp_path / "shapes", make_dataset(n_train=300, n_test=60, size=(8, 8), classes=3))
    export_dir = run_pipeline(tmp_path, dataset="idx", source=str(folder), val_size=30, negatives_count=200,
                              model="custom", layers=[{"type": "flatten"}, {"type": "dense", "units": "classes"}], epochs=2)
    with np.load(tmp_path / "negatives.npz", allow_pickle=False) as z:
        assert z["x"].shape == (0, 8, 8) and "not one of the digit datasets" in str(z["off"])
    reader = Reader.load(export_dir)
    assert reader.rule.off is not None
    from scratchnet.data.splits import load_split
    test = load_split(tmp_path / "prepared" / "test.npz")
    assert not any(r["uncertain"] for r in reader.classify(test["x"]))
    assert json.loads((tmp_path / "artifacts" / "detector.json").read_text()) == {}  # no rate where there is no rule
    detector_card = (export_dir.parent / "detector" / uncertainty.CARD).read_text()
    assert "- **Off**: dataset idx is not one of the digit datasets" in detector_card
    assert "a dataset of your own (IDX files) (fetch.dataset: idx): 270 training, 30 validation and 60 test images of 8x8, 3 classes" \
        in detector_card
    model_card = (export_dir / "model-card.md").read_text()
    assert "**Data**: a dataset of your own (IDX files) (fetch.dataset: idx): 270 training" in model_card
    assert "test digits" not in model_card
