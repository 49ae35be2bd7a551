"""The project modules each pipeline stage runs, found from the code itself (imports, transitively).

dvc.yaml runs a stage as `python -m stages.STAGE`: stages/__init__.py, then stages/STAGE.py and
every project module it reaches. Every import counts, at module level or inside a function, since
any of them may run. Importing a.b.c runs a/__init__.py and a/b/__init__.py.
`python -m tests.support.stage_code` prints dvc.yaml with each stage's code deps derived from its
imports; `--write` rewrites dvc.yaml with them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("stages", "scratchnet")  # the pipeline and the library; anything else is not project code


def module_file(name: str) -> Path | None:
    """scratchnet.nn -> scratchnet/nn/__init__.py, stages.train -> stages/train.py; None for other packages."""
    if name.partition(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(name: str, *, top_level_only: bool = False) -> set[str]:
    """Project modules imported by module `name` (with the packages their import runs)."""
    path = module_file(name)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if module_file(f"{base}.{alias.name}"))
    with_parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 2)}
    return {m for m in with_parents if module_file(m)}


def closure(start: set[str]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(name) - seen)
    return seen


def stage_files(stage: str) -> set[str]:
    """Repo-relative paths of the project's Python files that `python -m stages.STAGE` runs."""
    modules = closure({"stages", f"stages.{stage}"})
    return {module_file(m).relative_to(ROOT).as_posix() for m in modules}


def as_deps(files: set[str]) -> list[str]:
    """files as dvc.yaml lists them: a package folder whose every module runs is named once."""
    deps = set(files)
    for folder in sorted({Path(f).parent for f in files}, key=lambda d: len(d.parts)):
        inside = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts}
        if folder.parts and folder.as_posix() not in ("stages",) and inside <= files and inside & deps == inside:
            deps = (deps - inside) | {folder.as_posix()}
    return sorted(deps)


def declared_code_deps(deps: list[str]) -> set[str]:
    """The Python files a stage's dvc.yaml deps cover (folders expanded, caches left out)."""
    files = set()
    for dep in deps:
        path = ROOT / dep
        if path.is_dir():
            files.update(p.relative_to(ROOT).as_posix() for p in path.rglob("*.py") if "__pycache__" not in p.parts)
        elif path.suffix == ".py":
            files.add(dep)
    return files


def with_code_deps(text: str) -> str:
    """dvc.yaml's text with each stage's code deps replaced by the ones derived from its imports
    (data deps, comments and everything else kept as they are)."""
    lines, out, stage, in_deps = text.splitlines(keepends=True), [], None, False
    for line in lines:
        stripped = line.strip()
        named = re.match(r"  ([\w-]+):", line)  # `  train:` opens a stage (comments may follow)
        if named:
            stage = named.group(1)
        if stripped == "deps:":
            in_deps, kept = True, []
            out.append(line)
            continue
        if in_deps and stripped.startswith("- "):
            dep = stripped[2:]
            if dep.split("/")[0] not in PACKAGES:
                kept.append(dep)
            continue
        if in_deps:
            out.extend(f"      - {d}\n" for d in sorted(kept + as_deps(stage_files(stage))))
            in_deps = False
        out.append(line)
    return "".join(out)


if __name__ == "__main__":
    import sys

    dvc_yaml = ROOT / "dvc.yaml"
    if sys.argv[1:] == ["--write"]:
        dvc_yaml.write_text(with_code_deps(dvc_yaml.read_text()))
    else:
        sys.stdout.write(with_code_deps(dvc_yaml.read_text()))
