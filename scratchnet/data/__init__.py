"""Data on disk: IDX files, where a dataset comes from, and the prepared splits."""
