"""How a section of params.yaml is declared, read and validated before any work starts.

Each section is a Section of Fields (scratchnet/params/<section>.py, one module per stage, so a
stage's code depends on its own section's declaration and no other). An unknown key, a wrong type or
an out of range value raises ParamsError naming the key and what is allowed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ParamsError

SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass(frozen=True)
class Field:
    """One key of params.yaml: its type, default, allowed values and what it means (the README's
    params table is generated from these: `python -m scratchnet.params.reference --write docs/params.md`)."""

    kind: type | tuple[type, ...]
    default: Any = None
    help: str = ""
    choices: tuple | None = None
    low: float | None = None  # inclusive unless low_open
    high: float | None = None
    low_open: bool = False
    nullable: bool = False
    preset: bool = False  # train keys only: null means "the preset's value" (scratchnet/training/presets.py)

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
            raise ParamsError(f"{key}: got {value!r}, allowed: {', '.join(map(as_yaml, self.choices))}")
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise ParamsError(f"{key}: got {value!r}, expected {self.describe()}")
        if self.high is not None and value > self.high:
            raise ParamsError(f"{key}: got {value!r}, expected {self.describe()}")
        return value

    def describe(self) -> str:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        text = " or ".join(k.__name__ for k in kinds)
        if self.choices is not None:
            text = "one of " + ", ".join(map(as_yaml, self.choices))
        if self.low is not None:
            text += f" {'>' if self.low_open else '>='} {self.low}"
        if self.high is not None:
            text += f" and <= {self.high}"
        if self.nullable:
            text += " (or null)"
        return text


NUM = (int, float)


def as_yaml(value: Any) -> str:
    """A choice as it is written in params.yaml (true, not True)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def preset_field(kind, help: str, **limits) -> Field:
    """A train key whose null means "the preset's value"."""
    return Field(kind, None, help, nullable=True, preset=True, **limits)


# Every section params.yaml may hold, in pipeline order: read() refuses any other top-level key.
# Each has its declaration in scratchnet/params/<name>.py (tests hold the two lists equal).
SECTIONS = ("fetch", "preprocess", "negatives", "train", "evaluate", "export", "detector")


@dataclass(frozen=True)
class Section:
    """One stage's section of params.yaml: its name and its Fields, in the order params.yaml lists them."""

    name: str
    fields: dict[str, Field]

    def validate(self, section: Any, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Check one section (a mapping) and overrides laid over it; return it with defaults filled
        in. Each stage function calls this on the settings it is given, so a default has one home."""
        stage, fields = self.name, self.fields
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise ParamsError(f"{stage}: expected a mapping of keys to values, got {type(section).__name__}")
        merged = {**section, **(overrides or {})}
        unknown = sorted(map(str, set(merged) - set(fields)))
        if unknown:
            key = str(unknown[0])
            other, _, rest = key.partition(".")
            if other in SECTIONS and other != stage and rest:  # another stage's key: say where it is set
                hint = (f" ({key} belongs to the {other} stage: `scratchnet {other} --set {rest}=...` by hand,"
                        f" `dvc exp run -S {key}=...` under DVC)")
            else:
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParamsError(f"{stage}.{key}: unknown key{hint}; allowed keys: {', '.join(fields)}")
        return {k: f.check(f"{stage}.{k}", merged.get(k, f.default)) for k, f in fields.items()}

    def load(self, path: Path | str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Read params.yaml and return this section, validated, with overrides laid over it."""
        return self.validate(read(path).get(self.name), overrides)


def read(path: Path | str) -> dict[str, Any]:
    """Read params.yaml: a mapping whose top-level keys are all stage sections (typos caught)."""
    path = Path(path)
    if not path.is_file():
        where = "" if path.is_absolute() else f" in {Path.cwd()}"
        raise ParamsError(f"{path}: params file not found{where} (run from the checkout's root, or pass --params)")
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
    unknown = sorted(str(k) for k in doc if k not in SECTIONS)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], SECTIONS, n=1)
        raise ParamsError(f"{path}: unknown section {unknown[0]!r}"
                          + (f" (did you mean {hint[0]!r}?)" if hint else "")
                          + f"; sections: {', '.join(SECTIONS)}")
    return doc


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


