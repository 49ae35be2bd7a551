"""The detector section of params.yaml: how the `uncertain` detector is trained and calibrated."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("detector", {
    "positives": Field(int, 20000, "training digits the detector sees as they are (at most), against every non-digit of the negatives stage",
                       low=100),
    "photographed": Field(int, 10000, "more training digits (at most), written on photographed pages and read back "
                          "as predict reads a picture: digits as photos show them", low=0),
    "epochs": Field(int, 10, "passes of the feature detector's training (Adam): the MLP on the model's features "
                    "and the pixels", low=1),
    "image_epochs": Field(int, 4, "passes of the image detector's training (Adam): the small CNN on the pixels",
                          low=1),
    "batch_size": Field(int, 128, "examples per step of either network", low=1),
    "lr": Field(float, 1e-3, "the detector's Adam learning rate", low=0.0, low_open=True),
    "flag_rate": Field(float, 0.01, "share of validation digits flagged: the threshold is set to flag exactly these",
                       low=0.0, high=0.5, low_open=True),
    "seed": Field(int, 0, "seeds the digits picked and photographed, the detectors' initialisation and their "
                  "shuffling", low=0),
})
