"""The project modules each pipeline stage runs, found from the code itself (imports, transitively).

`scratchnet STAGE` runs stages/cli.py (its module-level imports), then the command imports
stages/STAGE.py; every import in that module and in the modules it reaches counts, at module level or
inside a function, since any of them may run. Importing a.b.c runs a/__init__.py and a/b/__init__.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGE = "stages"


def module_file(name: str) -> Path | None:
    """stages.nn -> stages/nn/__init__.py, stages.train -> stages/train.py; None for other packages."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
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
    """Repo-relative paths of the project's Python files that `scratchnet STAGE` runs."""
    cli = f"{PACKAGE}.cli"
    modules = closure(_imports(cli, top_level_only=True) | {f"{PACKAGE}.{stage}"}) | {cli}
    return {module_file(m).relative_to(ROOT).as_posix() for m in modules}


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


if __name__ == "__main__":
    import yaml

    for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]:
        print(stage, sorted(stage_files(stage)))
