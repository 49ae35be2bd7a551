"""Every section of params.yaml together: what the check stage validates and the README's table lists.

A stage imports its own section's module instead, so its code depends on no other section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import detector, evaluate, export, fetch, negatives, preprocess, train
from .schema import SECTIONS, Section, read

ALL: dict[str, Section] = {s.name: s for s in (fetch.SECTION, preprocess.SECTION, negatives.SECTION, train.SECTION,
                                               evaluate.SECTION, export.SECTION, detector.SECTION)}
assert tuple(ALL) == SECTIONS, "schema.SECTIONS lists the sections in this order"


def load_all(path: Path | str) -> dict[str, dict[str, Any]]:
    """Every section of params.yaml, validated: what the check stage runs before any other stage."""
    doc = read(path)
    return {name: section.validate(doc.get(name)) for name, section in ALL.items()}
