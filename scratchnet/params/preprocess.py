"""The preprocess section of params.yaml: the validation split and the class count."""

from __future__ import annotations

from .schema import NUM, Field, Section

SECTION = Section("preprocess", {
    "val_size": Field(NUM, None, "validation images carved from train: a count, or a fraction below 1; 0 for "
                      "none; null: 5,000 for MNIST (its usual split), a tenth of train otherwise",
                      low=0, nullable=True),
    "num_classes": Field(int, None, "class count (null: largest train label + 1); larger labels are an error",
                         low=2, nullable=True),
    "seed": Field(int, 0, "seed of the validation split", low=0),
})
