"""The negatives section of params.yaml: how many non-digits to draw, from which seed."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("negatives", {
    "count": Field(int, 10000, "non-digit pictures (letters, shapes, scribbles) drawn for the `uncertain` "
                   "detector", low=100, high=1_000_000),
    "seed": Field(int, 0, "seed of the drawings", low=0),
})
