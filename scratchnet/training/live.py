"""Training curves through DVCLive: each epoch's losses, accuracies and learning rate are logged as
the epoch ends, so the DVC extension and `dvc plots` show them while `dvc exp run` trains in the
workspace, and the train stage's summary closes the log.

DVCLive is told to leave DVC to DVC: no experiment of its own (save_dvc_exp=False) and no edits to
dvc.yaml (dvcyaml=False); dvc.yaml declares its folder as the train stage's output and its files as
plots. Nothing it writes carries a timestamp, so the same seed and params give the same bytes.

Files, under the live folder: plots/metrics/{train,val}/{loss,accuracy}.tsv and plots/metrics/lr.tsv
(columns `step` = the epoch, and the value), and metrics.json (the last epoch and the summary).
"""

from __future__ import annotations

import csv
import math
from contextlib import contextmanager
from pathlib import Path

CURVES = ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr")  # DVCLive names; rows say train_loss, ...


def _column(name: str) -> str:
    return name.replace("/", "_")


@contextmanager
def epoch_log(live_dir: Path | str):
    """(the DVCLive Live, on_epoch): on_epoch(row, seconds, trainer), fit's per-epoch callback,
    logs the row under step = its epoch; NaN (no validation split) is left out."""
    with _live(live_dir) as live:
        def on_epoch(row: dict, seconds: float, trainer) -> None:
            live.step = row["epoch"]
            for name in CURVES:
                if math.isfinite(row[_column(name)]):
                    live.log_metric(name, row[_column(name)])
            live.next_step()

        yield live, on_epoch


def _live(live_dir: Path | str):
    """DVCLive's logger for live_dir, attached to the DVC repo around it (for DVC's own live views)."""
    from dvclive import Live

    settings = {"dir": str(live_dir), "save_dvc_exp": False, "dvcyaml": False, "report": None}
    try:
        return Live(**settings)
    except Exception as e:  # DVCLive 3 trips over a git repo without a commit yet ("Empty git repo")
        if "Empty git repo" not in str(e):
            raise

    class Unattached(Live):
        def _init_dvc(self):  # no commit to relate the log to: write the files, nothing more
            pass

    return Unattached(**settings)


def read_curves(live_dir: Path | str) -> list[dict]:
    """The per-epoch rows {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"}
    back from DVCLive's files (NaN where a curve has no point: no validation split)."""
    rows: dict[int, dict] = {}
    for name in CURVES:
        path = Path(live_dir, "plots", "metrics", f"{name}.tsv")
        if not path.is_file():
            continue
        with open(path, encoding="utf-8") as f:
            for record in csv.DictReader(f, delimiter="\t"):
                step = int(record["step"])
                rows.setdefault(step, {"epoch": step, **{_column(n): math.nan for n in CURVES}})
                rows[step][_column(name)] = float(record[name.rsplit("/", 1)[-1]])
    if not rows:
        raise FileNotFoundError(f"{live_dir}: no training curves here (run `scratchnet train` first)")
    return [rows[step] for step in sorted(rows)]
