"""The pull-request report: params and metrics of this revision against a base, and the plots.

    python .ci/report.py BASE [HEAD]    # HEAD: the workspace if left out

Prints Markdown. DVC reads each revision's params from git and its metrics from the local cache, so
both revisions must have been reproduced here first (`git checkout BASE && dvc repro`, then the
same for HEAD): the pipeline is byte-reproducible, so the reproduced metrics are the ones BASE's
dvc.lock records, and no shared remote is needed. Each plot PNG of the workspace is referenced by
its path, for `cml comment update --publish` to upload.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

PLOTS = Path("artifacts/plots")


def dvc(*args: str) -> str:
    try:
        result = subprocess.run(["dvc", *args], capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"error: cannot run dvc ({e}); install the project (`pip install -e .`) first")
    if result.returncode:
        said = (result.stderr or result.stdout).strip().splitlines()
        sys.exit(f"error: dvc {' '.join(args)}: {said[-1] if said else f'exit status {result.returncode}'}")
    return result.stdout.strip()


def report(base: str, head: str | None) -> str:
    revs = [base] if head is None else [base, head]
    against = f"`{base[:12]}`" + ("" if head is None else f" → `{head[:12]}`")
    params = dvc("params", "diff", *revs, "--md") or "No params changed."
    metrics = dvc("metrics", "diff", *revs, "--md", "--precision", "4") or "No metric changed."
    plots = "\n".join(f"![{png.stem}]({png.as_posix()})" for png in sorted(PLOTS.glob("*.png")))
    return (f"## scratchnet: {against}\n\n### Params\n\n{params}\n\n### Metrics\n\n{metrics}\n\n"
            f"### Plots{' (the workspace)' if head is None else ''}\n\n{plots or 'No plots.'}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("head", nargs="?")
    args = ap.parse_args()
    print(report(args.base, args.head))


if __name__ == "__main__":
    main()
