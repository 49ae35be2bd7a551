"""The fetch section of params.yaml: which dataset, from where."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("fetch", {
    "dataset": Field(str, "mnist", "mnist; digits (scikit-learn's bundled 8x8 digits, offline); idx (any "
                     "dataset as the four IDX files, from a local source)", choices=("mnist", "digits", "idx")),
    "source": Field(str, "mirrors", "mirrors, openml, or a local folder or .tar(.gz)/.zip archive holding the "
                    "four IDX files; SCRATCHNET_MNIST_DIR replaces the mirrors"),
    "mirrors": Field(list, None, "base URLs to try in order (null: the built-in MNIST mirrors)", nullable=True),
    "seed": Field(int, 0, "seed of the digits train/test split", low=0),
    "test_size": Field(float, 0.2, "test fraction of the digits split", low=0.0, high=0.9, low_open=True),
})
