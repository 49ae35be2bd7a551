"""scratchnet: a NumPy-only digit recogniser driven as DVC stages."""

__version__ = "0.2.0"
