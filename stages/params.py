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


SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    default: Any = None
    choices: tuple | None = None
    low: float | None = None  # inclusive unless low_open
    high: float | None = None
    low_open: bool = False
    nullable: bool = False

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
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
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

SCHEMA: dict[str, dict[str, Field]] = {
    "fetch": {
        "dataset": Field(str, "mnist", choices=("mnist", "digits", "idx")),
        "source": Field(str, "mirrors"),
        "mirrors": Field(list, None, nullable=True),
        "seed": Field(int, 0, low=0),
        "test_size": Field(float, 0.2, low=0.0, high=0.9, low_open=True),
    },
    "preprocess": {
        "val_size": Field(NUM, None, low=0, nullable=True),
        "num_classes": Field(int, None, low=2, nullable=True),
        "seed": Field(int, 0, low=0),
    },
    "train": {
        "model": Field(str, "mlp", choices=("seed-mlp", "mlp", "cnn", "custom")),
        "layers": Field(list, None, nullable=True),
        "epochs": Field(int, None, low=1, nullable=True),
        "batch_size": Field(int, None, low=1, nullable=True),
        "optimizer": Field(str, None, choices=("sgd", "momentum", "nesterov", "adam"), nullable=True),
        "lr": Field(float, None, low=0.0, low_open=True, nullable=True),
        "momentum": Field(float, None, low=0.0, high=0.999, nullable=True),
        "weight_decay": Field(float, None, low=0.0, nullable=True),
        "schedule": Field(str, None, choices=("constant", "exponential", "step", "cosine"), nullable=True),
        "lr_decay": Field(float, None, low=0.0, high=1.0, low_open=True, nullable=True),
        "step_size": Field(int, None, low=1, nullable=True),
        "clip_dz": Field(float, None, low=0.0, low_open=True, nullable=True),
        "clip_value": Field(float, None, low=0.0, low_open=True, nullable=True),
        "clip_norm": Field(float, None, low=0.0, low_open=True, nullable=True),
        "augment_shift": Field(int, None, low=0, high=4, nullable=True),
        "shards": Field(int, None, low=1, high=64, nullable=True),
        "early_stopping": Field(int, 0, low=0),
        "seed": Field(int, 0, low=0),
    },
    "evaluate": {
        "worst_images": Field(int, 25, low=0, high=100),
        "batch_size": Field(int, 1000, low=1),
    },
    "export": {
        "opset": Field(int, 13, low=13, high=21),
        "tolerance": Field(float, 1e-5, low=0.0, low_open=True),
    },
}


def validate(stage: str, section: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check one section (a mapping) against SCHEMA[stage]; return it with defaults filled in."""
    schema = SCHEMA[stage]
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ParamsError(f"{stage}: expected a mapping of keys to values, got {type(section).__name__}")
    merged = {**section, **(overrides or {})}
    unknown = sorted(set(merged) - set(schema))
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
