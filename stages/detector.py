"""detector: learn and calibrate the rule behind predict's `uncertain` flag (scratchnet/detector.py).

Takes digits (training digits as they are, some of them photographed and read back, and the printed
digits of the negatives stage) and the negatives stage's non-digits, with the exported ONNX model's
penultimate features of each; trains the detector's two networks to tell them apart, and sets its
threshold on the validation digits. Writes
artifacts/detector/uncertainty.npz, detector-card.md beside it (what it was built on), and the share
of test digits it flags to a metrics JSON. When the negatives stage drew nothing (not a digit
dataset), the rule is written off, with the reason, and there is no rate to report.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from scratchnet import atomic, modelfile
from scratchnet.data.meta import describe
from scratchnet.data.splits import load_split, model_input
from scratchnet.detector import CARD as CARD_FILE
from scratchnet.detector import MAX_OTHER_MARKS, Rule, beside, calibrate
from scratchnet.digit_datasets import OFF
from scratchnet.errors import ZIP_REFUSALS, DataError, ModelFormatError
from scratchnet.onnx_export import infer, session
from scratchnet.params.detector import SECTION
from scratchnet.runner import ParamsFile, overrides, run, say, settings, stage_app
from scratchnet.vision.chunks import transform
from scratchnet.vision.photographed import photographed as photograph

PHOTOGRAPHED_WEIGHT = 2  # photographed digits are what users send: counted twice, the detector leans toward them


def read_negatives(path: Path, image_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(the non-digits (N, H, W) and the printed digits (M, H, W) as float32 in [0, 1], checked
    against the model's image size; why the detector is off, or None)."""
    again = "run `scratchnet negatives` or `dvc repro negatives`"
    if not path.is_file():
        raise DataError(f"{path}: not found ({again} first)")
    try:
        with np.load(path, allow_pickle=False) as z:
            negatives, digits, off = z["x"], z["digits"], (str(z[OFF]) if OFF in z.files else None)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, *ZIP_REFUSALS) as e:
        raise DataError(f"{path}: cannot read the non-digits ({e}); {again}") from None
    for name, images in (("non-digits", negatives), ("digits", digits)):
        if images.ndim != 3 or images.shape[1:] != tuple(image_shape):
            raise DataError(f"{path}: {name} of {images.shape[1:]} but the model reads {tuple(image_shape)}; {again}")
    if off is None and not len(negatives):
        raise DataError(f"{path}: holds no non-digits; {again}")
    return negatives.astype(np.float32) / 255, digits.astype(np.float32) / 255, off


CARD = """# The `uncertain` detector

- **For**: {model} in {export_dir}, trained on {data}.
{built}
"""


def card(*, export_dir: Path, manifest: dict, data: str, off: str | None, digits: int = 0, photographed: int = 0,
         printed: int = 0, negatives: int = 0, val: int = 0, flag_rate: float = 0.0, test_rate: float = 0.0,
         test: int = 0) -> str:
    """detector-card.md: what the detector beside a model was built on, or why it is off."""
    if off is not None:
        built = (f"- **Off**: {off}. predict and serve flag `uncertain` only for a page with more than "
                 f"{MAX_OTHER_MARKS} other marks on it.")
    else:
        built = (f"- **Built on**: {digits:,} training images of that data, {photographed:,} of them photographed and "
                 f"read back (counted {PHOTOGRAPHED_WEIGHT} times each), and {printed:,} printed digits (label: digit) "
                 f"against {negatives:,} non-digits drawn, "
                 "printed and photographed (stages/negatives.py); each network sees the image, the MLP also the "
                 "model's penultimate features.\n"
                 f"- **Threshold**: set to flag {flag_rate:.2%} of the {val:,} validation images; it flags "
                 f"{test_rate:.2%} of the {test:,} test images (artifacts/metrics/detector.json).")
    model = f"the `{manifest['recipe']['model']}` model" if "model" in manifest.get("recipe", {}) else "the model"
    return CARD.format(model=model, export_dir=export_dir, data=data, built=built)


def detector(*, export_dir: Path | str, data_dir: Path | str, negatives_path: Path | str,
             out_path: Path | str, metrics_path: Path | str, **settings) -> dict:
    """Train and calibrate the detector for the model in export_dir; write its arrays to out_path and
    the share of test digits it flags to metrics_path; return those metrics.

    settings: the detector section of params.yaml (positives, photographed, epochs, image_epochs, batch_size,
    lr, flag_rate, seed)."""
    s = SECTION.validate(settings)
    export_dir, data_dir = Path(export_dir), Path(data_dir)
    onnx_path = export_dir / "model.onnx"
    if not onnx_path.is_file():
        raise ModelFormatError(f"{onnx_path}: not found (run `scratchnet export` or `dvc repro export` first)")
    manifest = modelfile.read_manifest(export_dir)
    input_shape = tuple(manifest["input_shape"])
    sess = session(onnx_path)
    train, val, test = (load_split(data_dir / f"{name}.npz") for name in ("train", "val", "test"))
    if not len(val["x"]):
        val = train  # no held-back split: calibrate on training digits
    negatives, printed_digits, off = read_negatives(Path(negatives_path), input_shape[1:])
    data = describe(data_dir)
    out_path = Path(out_path)
    if off is not None:
        atomic.write_npz(out_path, **{OFF: np.array(off)})
        atomic.write_text(out_path.with_name(CARD_FILE), card(export_dir=export_dir, manifest=manifest, data=data, off=off))
        atomic.write_json(metrics_path, {})  # no rule, no rate: an empty record, not a flattering 0
        return {"off": off}
    rng = np.random.default_rng(s["seed"])
    pick = np.sort(rng.choice(len(train["x"]), min(s["positives"], len(train["x"])), replace=False))
    posed = np.sort(rng.choice(len(train["x"]), min(s["photographed"], len(train["x"])), replace=False))
    photographed = transform(photograph, train["x"][posed], np.random.SeedSequence(s["seed"]).spawn(1)[0],
                             input_shape[1:]).astype(np.float32) / 255

    def seen(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (images, the model's features of them)
        return images, infer(sess, model_input({"x": images}, input_shape))[1]
    digits = seen(np.concatenate([train["x"][pick], *[photographed] * PHOTOGRAPHED_WEIGHT, printed_digits]))
    cal = calibrate(digits, seen(negatives), seen(val["x"]), rng, epochs=s["epochs"], image_epochs=s["image_epochs"],
                    batch_size=s["batch_size"], lr=s["lr"], flag_rate=s["flag_rate"])
    metrics = {"uncertain_test_rate": float(Rule(cal).flags(*seen(test["x"])).mean())}
    atomic.write_npz(out_path, **cal)
    atomic.write_text(out_path.with_name(CARD_FILE), card(
        export_dir=export_dir, manifest=manifest, data=data, off=None, digits=len(pick) + len(photographed),
        photographed=len(photographed), printed=len(printed_digits), negatives=len(negatives), val=len(val["x"]),
        flag_rate=s["flag_rate"], test_rate=metrics["uncertain_test_rate"], test=len(test["x"])))
    atomic.write_json(metrics_path, metrics)
    return metrics


app = stage_app(__doc__)
SetOption = overrides(SECTION)


@app.command()
def main(
    model: Annotated[Path, typer.Option(help="Exported model folder (export's output).")] = Path("artifacts/export"),
    data: Annotated[Path, typer.Option(help="Folder with the prepared splits.")] = Path("data/prepared"),
    negatives_path: Annotated[Path, typer.Option(
        "--negatives", help="The negatives stage's pictures: the non-digits and printed digits it learns from.")
    ] = Path("data/negatives.npz"),
    out: Annotated[Path | None, typer.Option(
        help="The detector's arrays (.npz); default: detector/uncertainty.npz beside the model folder, where predict and serve look.")] = None,
    metrics: Annotated[Path, typer.Option(help="Detector metrics JSON.")] = Path("artifacts/metrics/detector.json"),
    params_file: ParamsFile = Path("params.yaml"),
    changes: SetOption = None,
) -> None:
    """Train and calibrate the `uncertain` detector on pictures and the exported model's features."""
    def go():
        out_path = out if out is not None else beside(model)
        m = detector(export_dir=model, data_dir=data, negatives_path=negatives_path, out_path=out_path,
                               metrics_path=metrics, **settings(SECTION, params_file, changes))
        if "off" in m:
            say(f"detector off ({out_path}): {m['off']}")
        else:
            say(f"detector in {out_path}: flags {m['uncertain_test_rate']:.2%} of the test digits")

    run(go)


if __name__ == "__main__":
    app(prog_name="scratchnet detector")
