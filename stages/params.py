"""Load and validate one stage's section of params.yaml before any work starts.

Every key is declared below with its type and allowed values; an unknown key, a wrong type or an out
of range value raises ParamsError naming the key and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ParamsError
from .presets import PRESETS

SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass(frozen=True)
class Field:
    """One key of params.yaml: its type, default, allowed values and what it means (the README's
    params table is generated from these: `python -m stages.params --readme README.md`)."""

    kind: type | tuple[type, ...]
    default: Any = None
    help: str = ""
    choices: tuple | None = None
    low: float | None = None  # inclusive unless low_open
    high: float | None = None
    low_open: bool = False
    nullable: bool = False
    preset: bool = False  # train keys only: null means "the preset's value" (stages/presets.py)

    def check(self, key: str, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise ParamsError(f"{key}: must be set ({self.describe()})")
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if float in kinds and isinstance(value, str) and SCIENTIFIC.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string; people write it anyway
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value) if int not in kinds else value
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise ParamsError(f"{key}: got {value!r}, expected {self.describe()}")
        if self.choices is not None and value not in self.choices:
            raise ParamsError(f"{key}: got {value!r}, allowed: {', '.join(map(str, self.choices))}")
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise ParamsError(f"{key}: got {value!r}, expected {self.describe()}")
        if self.high is not None and value > self.high:
            raise ParamsError(f"{key}: got {value!r}, expected {self.describe()}")
        return value

    def describe(self) -> str:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        text = " or ".join(k.__name__ for k in kinds)
        if self.choices is not None:
            text = "one of " + ", ".join(map(str, self.choices))
        if self.low is not None:
            text += f" {'>' if self.low_open else '>='} {self.low}"
        if self.high is not None:
            text += f" and <= {self.high}"
        if self.nullable:
            text += " (or null)"
        return text


NUM = (int, float)


def _preset(kind, help: str, **limits) -> Field:
    return Field(kind, None, help, nullable=True, preset=True, **limits)


SCHEMA: dict[str, dict[str, Field]] = {
    "fetch": {
        "dataset": Field(str, "mnist", "mnist; digits (scikit-learn's bundled 8x8 digits, offline); idx (any "
                         "dataset as the four IDX files, from a local source)", choices=("mnist", "digits", "idx")),
        "source": Field(str, "mirrors", "mirrors, openml, or a local folder or .tar(.gz)/.zip archive holding the "
                        "four IDX files; SCRATCHNET_MNIST_DIR replaces the mirrors"),
        "mirrors": Field(list, None, "base URLs to try in order (null: the built-in MNIST mirrors)", nullable=True),
        "seed": Field(int, 0, "seed of the digits train/test split", low=0),
        "test_size": Field(float, 0.2, "test fraction of the digits split", low=0.0, high=0.9, low_open=True),
    },
    "preprocess": {
        "val_size": Field(NUM, None, "validation images carved from train: a count, or a fraction below 1; 0 for "
                          "none; null: 5,000 for MNIST (its usual split), a tenth of train otherwise",
                          low=0, nullable=True),
        "num_classes": Field(int, None, "class count (null: largest train label + 1); larger labels are an error",
                             low=2, nullable=True),
        "seed": Field(int, 0, "seed of the validation split", low=0),
    },
    "negatives": {
        "count": Field(int, 10000, "non-digit pictures (letters, shapes, scribbles) drawn for the `uncertain` "
                       "detector that export trains", low=100, high=1_000_000),
        "seed": Field(int, 0, "seed of the drawings", low=0),
    },
    "train": {
        "model": Field(str, "mlp", "the preset (architecture and recipe), or custom: train.layers on the mlp "
                       "recipe", choices=(*PRESETS, "custom")),
        "layers": Field(list, None, "layer specs for custom, e.g. [{type: flatten}, {type: dense, units: classes}]",
                        nullable=True),
        "epochs": _preset(int, "passes over the training split", low=1),
        "batch_size": _preset(int, "images per step", low=1),
        "optimizer": _preset(str, "the update rule", choices=("sgd", "momentum", "nesterov", "adam")),
        "lr": _preset(float, "learning rate at the first epoch", low=0.0, low_open=True),
        "momentum": _preset(float, "momentum of momentum and nesterov", low=0.0, high=0.999),
        "weight_decay": _preset(float, "L2 penalty on weights (not biases)", low=0.0),
        "schedule": _preset(str, "learning rate per epoch: constant; exponential (x lr_decay each epoch); step "
                            "(x lr_decay every step_size epochs); cosine",
                            choices=("constant", "exponential", "step", "cosine")),
        "lr_decay": _preset(float, "factor of the exponential and step schedules", low=0.0, high=1.0, low_open=True),
        "step_size": _preset(int, "epochs per step of the step schedule", low=1),
        "clip_dz": _preset(float, "clip the gradient flowing between layers to [-clip_dz, clip_dz]",
                           low=0.0, low_open=True),
        "clip_value": _preset(float, "clip every parameter gradient element to [-clip_value, clip_value]",
                              low=0.0, low_open=True),
        "clip_norm": _preset(float, "scale the gradients so their joint L2 norm is at most clip_norm",
                             low=0.0, low_open=True),
        "augment_rotate": _preset(float, "rotate each training image by up to this many degrees either way (0: off)",
                                  low=0.0, high=45.0),
        "augment_scale": _preset(float, "scale each training image by a factor in [1 - augment_scale, 1 + augment_scale] "
                                 "(0: off)", low=0.0, high=0.5),
        "augment_shift": _preset(int, "shift each training image by up to this many pixels (0: off)", low=0, high=4),
        "shards": _preset(int, "split each batch into this many slices trained at once on separate threads "
                          "(data parallel; results depend on it, not on the core count)", low=1, high=64),
        "early_stopping": Field(int, 0, "stop after this many epochs without val improvement (0: off)", low=0),
        "seed": Field(int, 0, "seeds initialisation, shuffling, dropout and augmentation", low=0),
    },
    "evaluate": {
        "worst_images": Field(int, 25, "misclassified test images drawn in worst.png", low=0, high=100),
        "batch_size": Field(int, 1000, "inference batch size", low=1),
    },
    "export": {
        "opset": Field(int, 13, "ONNX opset", low=13, high=21),
        "tolerance": Field(float, 1e-5, "max |p_numpy - p_onnxruntime| accepted on the test split",
                           low=0.0, low_open=True),
    },
}

PRESET_KEYS = tuple(k for k, f in SCHEMA["train"].items() if f.preset)


def validate(stage: str, section: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check one section (a mapping) against SCHEMA[stage]; return it with defaults filled in.
    Each stage function calls this on the settings it is given, so a default has one home."""
    schema = SCHEMA[stage]
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ParamsError(f"{stage}: expected a mapping of keys to values, got {type(section).__name__}")
    merged = {**section, **(overrides or {})}
    unknown = sorted(map(str, set(merged) - set(schema)))
    if unknown:
        key = str(unknown[0])
        section_prefix = key.partition(".")[0]
        if section_prefix in SCHEMA and section_prefix != stage and key.partition(".")[2] in SCHEMA[section_prefix]:
            hint = f" ({key.partition('.')[2]} is a key of the {section_prefix} section, not of {stage})"
        else:
            close = difflib.get_close_matches(key, schema, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParamsError(f"{stage}.{key}: unknown key{hint}; allowed keys: {', '.join(schema)}")
    return {k: f.check(f"{stage}.{k}", merged.get(k, f.default)) for k, f in schema.items()}


def read(path: Path | str) -> dict[str, Any]:
    """Read params.yaml: a mapping whose top-level keys are all stage sections (typos caught)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ParamsError(f"{path}: not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not UTF-8 text") from None
    if not isinstance(doc, dict):
        raise ParamsError(f"{path}: expected a mapping of stage names to sections")
    unknown = sorted(str(k) for k in doc if k not in SCHEMA)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], SCHEMA, n=1)
        raise ParamsError(f"{path}: unknown section {unknown[0]!r}"
                          + (f" (did you mean {hint[0]!r}?)" if hint else "")
                          + f"; sections: {', '.join(SCHEMA)}")
    return doc


def load(path: Path | str, stage: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read params.yaml and return the validated section for `stage`."""
    return validate(stage, read(path).get(stage), overrides)


def load_all(path: Path | str) -> dict[str, dict[str, Any]]:
    """Every section of params.yaml, validated: what `scratchnet check` runs before any stage."""
    doc = read(path)
    return {stage: validate(stage, doc.get(stage)) for stage in SCHEMA}


def parse_override(text: str) -> tuple[str, Any]:
    """Parse 'key=value' (value in YAML syntax), as given to a stage's --set option."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ParamsError(f"--set {text!r}: expected key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ParamsError(f"--set {text!r}: value is not valid YAML") from None
    return key.strip(), value


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"`{value:g}`"
    return "`null`" if value is None else f"`{value}`"


def reference_table() -> str:
    """The README's params table, one row per key, from SCHEMA (and the presets' values)."""
    rows = ["| key | default | meaning | allowed |", "| --- | --- | --- | --- |"]
    for stage, fields in SCHEMA.items():
        for key, field in fields.items():
            if field.preset:
                default = "preset: " + ", ".join(f"{name} {_value(recipe[key])}" for name, recipe in PRESETS.items())
            else:
                default = _value(field.default)
            cells = [f"`{stage}.{key}`", default, field.help, field.describe()]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


TABLE_START, TABLE_END = "<!-- params table: generated by `python -m stages.params --readme README.md` -->\n", \
    "<!-- end of params table -->\n"


def readme_with_table(text: str) -> str:
    """text (the README) with the part between the table markers replaced by reference_table()."""
    head, start, rest = text.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError("the README lacks the params table markers")
    return head + start + reference_table() + end + tail


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Print the params reference table, or rewrite it in a README.")
    ap.add_argument("--readme", type=Path, help="rewrite the table between the markers in this file")
    args = ap.parse_args()
    if args.readme:
        args.readme.write_text(readme_with_table(args.readme.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(reference_table(), end="")
