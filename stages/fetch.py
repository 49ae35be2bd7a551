"""fetch: put the four IDX files of a dataset into data/raw/, verified, plus checksums.json.

Sources: the public MNIST mirrors (tried in order), a local folder or archive, scikit-learn's bundled
8x8 digits, or OpenML's mnist_784 (scratchnet/data/sources.py). SCRATCHNET_MNIST_DIR replaces the
mirrors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scratchnet import atomic
from scratchnet.data.raw import CHECKSUMS, FILES
from scratchnet.data.sources import encoded, gather
from scratchnet.params.fetch import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app


def fetch(*, out_dir: Path | str, **settings) -> dict:
    """Fetch the dataset into `out_dir`; return the checksum record written beside it, plus `source`:
    where the data really came from (not written: it may be a local path).

    settings: the fetch section of params.yaml (dataset, source, mirrors, seed, test_size), defaults
    for any left out."""
    s = SECTION.validate(settings)
    dataset = s["dataset"]
    arrays, source = gather(dataset=dataset, source=s["source"], mirrors=s["mirrors"], seed=s["seed"],
                            test_size=s["test_size"])
    record = {"dataset": dataset, "verified": dataset == "mnist", "files": {}}
    with atomic.atomic_dir(out_dir) as tmp:
        for name in FILES:
            data, digest = encoded(name, arrays[name], source, verify=dataset == "mnist")
            (tmp / name).write_bytes(data)
            record["files"][name] = {"sha256": digest, "bytes": len(data), "shape": list(arrays[name].shape)}
        atomic.write_json(tmp / CHECKSUMS, record)
    return {**record, "source": source}


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    out: Annotated[Path, typer.Option(help="Folder to write the four IDX files and checksums.json to.")] = Path("data/raw"),
    source: Annotated[str | None, typer.Option(
        help="Override fetch.source: 'mirrors', 'openml', or a local folder or .tar(.gz)/.zip archive holding the four IDX files.")] = None,
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Download (or copy from a local folder) the dataset and verify it. SCRATCHNET_MNIST_DIR replaces the mirrors."""
    def go():
        prm = settings(SECTION, params_file, (changes or []) + ([f"source={source}"] if source else []))
        record = fetch(out_dir=out, **prm)
        shapes = ", ".join(f"{k} {tuple(v['shape'])}" for k, v in record["files"].items())
        say(f"fetched {prm['dataset']} from {record['source']}{' (checksums verified)' if record['verified'] else ''}: {shapes}")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet fetch")
