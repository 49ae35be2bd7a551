"""The negatives section of params.yaml: whether to build the `uncertain` detector at all, and how
many non-digits to draw for it, from which seed."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("negatives", {
    "detector": Field((str, bool), "auto", "build the `uncertain` detector (draw its non-digits): auto = for digit "
                      "datasets only (fetch.dataset mnist or digits); true for digits of your own (idx); false: never",
                      choices=("auto", True, False)),
    "count": Field(int, 10000, "non-digit pictures (letters, shapes, scribbles) drawn for the `uncertain` "
                   "detector", low=100, high=1_000_000),
    "seed": Field(int, 0, "seed of the drawings", low=0),
})
