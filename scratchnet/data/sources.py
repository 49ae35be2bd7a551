"""Where a dataset's four IDX files come from, verified.

Sources: the public MNIST mirrors (tried in order), a local folder or a .tar(.gz)/.zip archive
holding the four files (gzipped or not), scikit-learn's bundled 8x8 digits, or OpenML's
mnist_784. MNIST content is checked against pinned SHA-256 sums of the decompressed files, so a
recompressed copy verifies too.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from ..errors import ZIP_REFUSALS, DataError, ParamsError
from .idx import idx_bytes, read_idx
from ..checkout import checkout_root
from .raw import FILES, SPLITS, check_pair

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
ENV_DIR = "SCRATCHNET_MNIST_DIR"
MAX_DOWNLOAD_BYTES = 64 << 20


def _progress(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False, disable=not sys.stderr.isatty())


def download(url: str, dest: Path, *, timeout: float = 30.0) -> None:
    """Stream `url` to `dest` with a progress bar; raise DataError on any network failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            total = resp.headers.get("Content-Length")
            with _progress(int(total) if total else None, Path(url).name) as bar:
                done = 0
                while chunk := resp.read(1 << 16):
                    done += len(chunk)
                    if done > MAX_DOWNLOAD_BYTES:
                        raise DataError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
                    out.write(chunk)
                    bar.update(len(chunk))
            if total and done != int(total):
                raise DataError(f"{url}: download incomplete ({done} of {total} bytes)")
    except urllib.error.HTTPError as e:
        raise DataError(f"{url}: download failed (HTTP {e.code} {e.reason})") from None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise DataError(f"{url}: download failed ({getattr(e, 'reason', e)})") from None


def encoded(name: str, array: np.ndarray, where: str, verify: bool) -> tuple[bytes, str]:
    """(IDX bytes, their SHA-256); with verify, the pinned MNIST sum must match."""
    data = idx_bytes(array)
    digest = hashlib.sha256(data).hexdigest()
    if verify and digest != MNIST_SHA256[name]:
        raise DataError(f"{where}: checksum mismatch for {name} (sha256 {digest[:12]}…, expected {MNIST_SHA256[name][:12]}…)")
    return data, digest


def from_mirrors(mirrors: list[str]) -> dict[str, np.ndarray]:
    """Download and verify the four MNIST files, trying each mirror in order for each file."""
    arrays = {}
    with tempfile.TemporaryDirectory(prefix="scratchnet-fetch-") as tmp:
        for name in FILES:
            failures = []
            for base in mirrors:
                url = base.rstrip("/") + "/" + name + ".gz"
                dest = Path(tmp) / (name + ".gz")
                try:
                    download(url, dest)
                    try:
                        array = read_idx(dest)
                    except DataError as e:
                        raise DataError(str(e).replace(str(dest), url)) from None
                    encoded(name, array, url, verify=True)
                    arrays[name] = array
                    break
                except DataError as e:
                    failures.append(str(e))
                finally:
                    dest.unlink(missing_ok=True)
            else:
                raise DataError(f"{name}: no mirror gave a good copy: " + "; ".join(failures)
                                + f" (offline? point {ENV_DIR} or --source at a folder holding the four files)")
    return arrays


def from_folder(folder: Path) -> dict[str, np.ndarray]:
    """Read the four IDX files (plain or .gz) from a local folder."""
    if not folder.is_dir():
        raise DataError(f"{folder}: source folder not found")
    arrays = {}
    for name in FILES:
        candidates = [folder / name, folder / (name + ".gz")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: missing {name} (or {name}.gz)")
        arrays[name] = read_idx(found)
    return arrays


def from_archive(path: Path) -> dict[str, np.ndarray]:
    """Read the four IDX files (plain or .gz, anywhere inside) from a .tar(.gz) or .zip archive."""
    import tarfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix="scratchnet-archive-") as tmp:
        try:
            if zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    _unpack([(m.filename, m.file_size, m) for m in z.infolist() if not m.is_dir()], Path(tmp), z.read)
            elif tarfile.is_tarfile(path):
                with tarfile.open(path) as t:
                    _unpack([(m.name, m.size, m) for m in t.getmembers() if m.isfile()], Path(tmp),
                            lambda m: t.extractfile(m).read())
            else:
                raise DataError(f"{path}: not a folder, a .tar(.gz) or a .zip archive")
        except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, *ZIP_REFUSALS) as e:
            raise DataError(f"{path}: corrupt archive ({e})") from None
        return from_folder(Path(tmp))


def _unpack(members: list, dest: Path, read) -> None:
    """Write the members named like the four files (by file name, never by their path) into dest."""
    wanted = set(FILES) | {name + ".gz" for name in FILES}
    for name, size, member in members:
        base = Path(name).name
        if base in wanted:
            if size > MAX_DOWNLOAD_BYTES:
                raise DataError(f"{name}: {size} bytes inside the archive, above the {MAX_DOWNLOAD_BYTES} bound")
            (dest / base).write_bytes(read(member))


def from_digits(seed: int, test_size: float) -> dict[str, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (values 0..16) as uint8 IDX arrays, split with a seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    xtr, xte, ytr, yte = train_test_split(images, labels, test_size=test_size, random_state=seed, stratify=labels)
    return dict(zip(FILES, [xtr, ytr, xte, yte]))


def from_openml() -> dict[str, np.ndarray]:  # pragma: no cover - needs the internet
    """OpenML's mnist_784, as the original project loaded it: first 60,000 train, last 10,000 test."""
    from sklearn.datasets import fetch_openml

    try:
        x, y = fetch_openml("mnist_784", version=1, as_frame=False, parser="liac-arff", return_X_y=True)
    except Exception as e:  # sklearn raises many network error types
        raise DataError(f"OpenML mnist_784: download failed ({e})") from None
    images = x.reshape(-1, 28, 28).astype(np.uint8)
    labels = y.astype(np.uint8)
    return dict(zip(FILES, [images[:60000], labels[:60000], images[60000:], labels[60000:]]))


DIGITS_SOURCE = "scikit-learn's bundled digits"


def resolve_source(dataset: str, source: str) -> str:
    """The source actually used: SCRATCHNET_MNIST_DIR replaces the mirrors for MNIST; the bundled
    digits ignore fetch.source."""
    if dataset == "digits":
        return DIGITS_SOURCE
    if dataset == "mnist" and source == "mirrors" and os.environ.get(ENV_DIR):
        source = os.environ[ENV_DIR]
    elif source in ("mirrors", "openml"):
        return source
    local = Path(source).expanduser()  # a folder or archive: a relative one is the checkout's
    return str(local if local.is_absolute() else checkout_root() / local)


def gather(*, dataset: str, source: str, mirrors: list[str] | None, seed: int, test_size: float) -> tuple[dict[str, np.ndarray], str]:
    """(the four arrays by file name, where they really came from) for the fetch section's settings."""
    source = resolve_source(dataset, source)
    if dataset == "digits":
        arrays = from_digits(seed, test_size)
    elif source == "openml":
        if dataset != "mnist":
            raise ParamsError("fetch.source: openml serves only fetch.dataset: mnist")
        arrays = from_openml()
    elif source == "mirrors":
        if dataset != "mnist":
            raise ParamsError("fetch.source: mirrors serve only MNIST; give a local folder for dataset idx")
        arrays = from_mirrors(mirrors or MIRRORS)
    elif Path(source).is_file():
        arrays = from_archive(Path(source))
    else:
        arrays = from_folder(Path(source))
    for split, (img, lab) in SPLITS.items():
        check_pair(arrays[img], arrays[lab], split)
    return arrays, source
