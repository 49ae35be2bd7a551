"""Which datasets the `uncertain` detector is for: digits. Its counter-examples are non-digits
(letters, symbols, shapes, scribbles, clutter), so on a dataset of shapes it would flag the classes
themselves.

Kept apart from detector.py (and its network) so that the negatives stage, which decides whether to
draw anything, depends on this rule alone.
"""

from __future__ import annotations

DIGIT_DATASETS = ("mnist", "digits")  # the fetch.dataset values that are digits
OFF = "off"  # the array (a string) that marks a detector left off, and why, in uncertainty.npz and negatives.npz


def wanted(setting: str | bool, dataset: str | None) -> tuple[bool, str]:
    """(build the detector?, why) for negatives.detector's `setting` and the prepared data's dataset
    (meta.json; None for a folder fetch did not write)."""
    if setting is True or setting is False:
        return setting, f"negatives.detector: {str(setting).lower()}"
    if dataset in DIGIT_DATASETS:
        return True, f"{dataset} is a digit dataset (negatives.detector: auto)"
    return False, (f"dataset {dataset or 'of unknown kind'} is not one of the digit datasets ({', '.join(DIGIT_DATASETS)}), and "
                   "the detector learns what is not a digit (negatives.detector: auto; set it to true for digits of your own)")
