"""The detector section of params.yaml: how the `uncertain` detector is trained and calibrated."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("detector", {
    "positives": Field(int, 20000, "training digits the detector sees (at most), against every drawn non-digit",
                       low=100),
    "epochs": Field(int, 10, "passes of the detector's training (Adam)", low=1),
    "batch_size": Field(int, 128, "feature rows per detector step", low=1),
    "lr": Field(float, 1e-3, "the detector's Adam learning rate", low=0.0, low_open=True),
    "flag_rate": Field(float, 0.01, "share of validation digits flagged: the threshold is set to flag exactly these",
                       low=0.0, high=0.5, low_open=True),
    "seed": Field(int, 0, "seeds the digits picked, the detector's initialisation and its shuffling", low=0),
})
