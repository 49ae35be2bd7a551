"""The `uncertain` flag on kinds of non-digits the detector never saw (bench/open_set.py), and the
pieces that make those sets: held-out fonts, the other pen, the printed and photographed pictures
the negatives and detector stages learn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import open_set
from scratchnet.vision import drawing, photographed, printed
from scratchnet.vision.chunks import generate
from scratchnet.vision.clutter import clutter

# the detector before it learned from printed and photographed pictures, on these sets (the issue's
# "today"): 43 of 510 printed digits (Pillow's font and 16 Liberation faces), none of the photo set
PRINTED_DIGITS_FLAGGED_BEFORE = 0.0843
PHOTO_SET_FLAGGED_BEFORE = 0


def test_held_out_fonts_are_none_the_negatives_print_in():
    fonts = open_set.held_out_fonts()
    assert fonts[0] == ""  # Pillow's own, wherever Pillow is
    training = {p.name for p in printed.training_fonts()}
    assert len(training) >= 15 and not training & {Path(f).name for f in fonts}
    assert not any(Path(f).name.startswith(open_set.TRAINING_FAMILIES) for f in fonts[1:])


def test_letters_a_digit_can_pass_for_are_never_taught_or_tested():
    assert not set(printed.LETTERS) & printed.DIGIT_LIKE
    assert not set(drawing.LETTERS) & printed.DIGIT_LIKE
    assert printed.has_glyphs(str(printed.training_fonts()[0]), "Ax")
    assert not printed.has_glyphs(str(printed.training_fonts()[0]), "\U000f0001")


@pytest.mark.parametrize("sampler", [printed.non_digits, printed.digits, clutter])
def test_printed_and_photographed_pictures_are_mnist_inputs_from_their_seed(sampler):
    one = generate(sampler, 30, 4, (28, 28), workers=1)
    assert one.shape == (30, 28, 28) and one.dtype == np.uint8
    assert np.array_equal(one, generate(sampler, 30, 4, (28, 28), workers=1))
    x = one.astype(np.float32) / 255
    ink = x > 0.05
    height = 28 - np.argmax(ink.any(2), 1) - np.argmax(ink.any(2)[:, ::-1], 1)
    width = 28 - np.argmax(ink.any(1), 1) - np.argmax(ink.any(1)[:, ::-1], 1)
    assert np.all(np.maximum(height, width) <= 22) and np.median(np.maximum(height, width)) >= 19  # the 20x20 box


def test_photographed_digits_are_read_back_as_predict_reads_them():
    rng = np.random.default_rng(0)
    digits = np.zeros((12, 28, 28), np.float32)
    digits[:, 4:24, 12:16] = 1  # a stroke: a 1
    seen = photographed.photographed(digits, rng, (28, 28))
    assert 10 <= len(seen) <= 12 and seen.dtype == np.float32
    tall = (seen > 0.1).any(2).sum(1)
    wide = (seen > 0.1).any(1).sum(1)
    assert np.median(tall) >= 19 and np.all(tall >= 14) and np.all(wide < tall)  # still a tall stroke, framed as MNIST


def test_the_open_set_pages_and_table(monkeypatch):
    monkeypatch.setattr(open_set, "N", dict.fromkeys(open_set.N, 4) | {"printed_digits": 1})
    rng = np.random.default_rng(0)
    test = (rng.integers(0, 255, (20, 28, 28), dtype=np.uint8), rng.integers(0, 10, 20))
    sets = open_set.pages(test)
    assert set(sets) == {"printed letters, held-out fonts", "drawn letters, another generator",
                         "printed symbols, held-out fonts", "strings of 2 to 4 digits", "crops of natural photos",
                         "printed digits, held-out fonts"}
    for kind, items in sets.items():
        assert items and all(page.ndim == 2 and page.min() >= 0 and page.max() <= 1 for page, _ in items), kind
    assert all(label is not None for _, label in sets["printed digits, held-out fonts"])
    table = open_set.table({"letters": {"n": 10, "digits": False, "flagged": 8, "refused": 1},
                            "digits": {"n": 200, "digits": True, "right": 190, "flagged": 3, "refused": 0}})
    assert "| letters | 10 | 8 | 1 | **90.0%** |" in table and "| digits | 200 | 190 | 3 (1.50%) | 0 |" in table


def test_unseen_kinds_of_non_digit_are_caught_and_digits_are_not(mnist_model, mnist):
    """The issue's targets, on the default pipeline's model: at least 90 % of every kind of non-digit
    caught; at most 1.2 % of MNIST's test digits flagged; no more of the photo set and of the printed
    digits flagged than the detector that learned from drawings alone flagged."""
    export_dir, _ = mnist_model
    results = open_set.score(export_dir, mnist)
    print(open_set.table(results))
    for kind, r in results.items():
        if not r["digits"]:
            assert (r["flagged"] + r["refused"]) / r["n"] >= 0.9, (kind, r)
    assert results["MNIST test digits"]["flagged"] / results["MNIST test digits"]["n"] <= 0.012
    photos = results["photo set (tests/support/photos.py)"]
    assert photos["flagged"] <= PHOTO_SET_FLAGGED_BEFORE and photos["right"] == photos["n"], photos
    fonts = results["printed digits, held-out fonts"]
    assert fonts["flagged"] / fonts["n"] <= PRINTED_DIGITS_FLAGGED_BEFORE, fonts
