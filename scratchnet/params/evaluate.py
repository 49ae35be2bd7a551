"""The evaluate section of params.yaml: what the test report draws and how it batches."""

from __future__ import annotations

from .schema import Field, Section

SECTION = Section("evaluate", {
    "worst_images": Field(int, 25, "misclassified test images drawn in worst.png", low=0, high=100),
    "batch_size": Field(int, 1000, "inference batch size", low=1),
})
