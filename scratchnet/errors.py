"""The project's error types: every one is a ScratchnetError, which the CLI turns into one line and exit 1."""


# what Python's zipfile raises for a damaged .npz besides BadZipFile: flag bits claiming encryption
# or a format it does not implement (found by tests/test_fuzz.py)
ZIP_REFUSALS = (NotImplementedError, RuntimeError)


class ScratchnetError(Exception):
    """A problem the user can fix: bad data, bad params, a missing or corrupt file."""


class DataError(ScratchnetError):
    """A dataset file is missing, corrupt or inconsistent."""


class ParamsError(ScratchnetError):
    """A value in params.yaml (or an override) is invalid."""


class ModelFormatError(ScratchnetError):
    """A saved model does not match its manifest or cannot be read safely."""


class ImageError(ScratchnetError):
    """An input image for predict cannot be used. `kind` says why, for `serve` to answer with the
    right status: not_image, too_large, empty, blank, no_digit, several_digits, not_mnist or unreadable."""

    def __init__(self, message: str, kind: str = "unreadable"):
        super().__init__(message)
        self.kind = kind


class TrainingDiverged(ScratchnetError):
    """The loss became NaN or infinite."""


class ExportError(ScratchnetError):
    """The exported model does not reproduce the NumPy model."""
