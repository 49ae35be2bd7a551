"""The negatives section of params.yaml: whether to build the `uncertain` detector at all, and how
many pictures of each kind to make for it, from which seed."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("negatives", {
    "detector": Field((str, bool), "auto", "build the `uncertain` detector (draw its non-digits): auto = for digit "
                      "datasets only (fetch.dataset mnist or digits); true for digits of your own (idx); false: never",
                      choices=("auto", True, False)),
    "count": Field(int, 10000, "non-digit pictures (letters, shapes, scribbles) drawn with a pen for the "
                   "`uncertain` detector", low=100, high=1_000_000),
    "printed": Field(int, 8000, "non-digits printed in matplotlib's fonts and photographed: letters, symbols, "
                     "strings of digits set too close to tell apart", low=0, high=1_000_000),
    "clutter": Field(int, 3000, "photographed clutter: blotches, tangles of lines, overlapping outlines",
                     low=0, high=1_000_000),
    "printed_digits": Field(int, 4000, "digits printed in the same fonts and photographed: the detector's examples "
                            "of print that is a digit", low=0, high=1_000_000),
    "seed": Field(int, 0, "seed of every picture the stage makes", low=0),
})
