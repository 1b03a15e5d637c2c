"""The import rules of docs/architecture.md, read from the source with ast (no module is imported).

- Library code never imports the CLI: no module under pipectl/ outside pipectl/cli/ (and
  pipectl/__main__.py, which starts it) imports typer, rich or pipectl.cli.
- jobs/ runs inside Flink (locally and on Managed Flink, from the zip): it imports only the
  standard library, pyflink and jobs itself; never pipectl or producer.
- pipectl/errors.py is stdlib only (everything imports it).
- Heavy SDKs (pyflink, boto3, botocore, docker, pyiceberg, pyarrow, duckdb, kafka, confluent_kafka)
  are imported where they are used, never at the top of a pipectl module, so `pipectl --help` stays
  instant. (Imports under `if TYPE_CHECKING:` do not run and are allowed.)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = {"pyflink", "boto3", "botocore", "docker", "pyiceberg", "pyarrow", "duckdb", "kafka", "confluent_kafka"}
CLI_ONLY = {"typer", "rich", "click"}


def _modules(folder: str) -> list[Path]:
    return sorted(p for p in (REPO / folder).rglob("*.py") if ".venv" not in p.parts)


def _imports(path: Path, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import in the file; with top_level_only, those that run on import."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # never runs
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import) and not (top_level_only and nested):
                found.extend((child.lineno, alias.name) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and not (top_level_only and nested) and child.level == 0 and child.module:
                found.extend((child.lineno, f"{child.module}.{alias.name}") for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level and not (top_level_only and nested):
                found.append((child.lineno, "." * child.level + (child.module or "")))
            visit(child, inner)

    visit(tree, False)
    return found


def _root(module: str) -> str:
    return module.split(".")[0]


def test_the_rules_see_imports():
    """The checker itself: it finds a top-level import and one inside a function."""
    sample = REPO / "pipectl" / "verify.py"
    assert any(_root(m) == "pipectl" for _, m in _imports(sample, top_level_only=True))
    assert _imports(REPO / "pipectl" / "cli" / "main.py")


def test_library_code_never_imports_the_cli():
    offenders = []
    for path in _modules("pipectl"):
        if (REPO / "pipectl" / "cli") in path.parents or path.name == "__main__.py":
            continue  # the CLI, and `python -m pipectl`, which starts it
        for line, module in _imports(path):
            if _root(module) in CLI_ONLY or module.startswith("pipectl.cli"):
                offenders.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert offenders == []


def test_jobs_import_only_the_stdlib_and_pyflink():
    allowed = set(sys.stdlib_module_names) | {"pyflink", "jobs", "__future__"}
    offenders = []
    for path in [*_modules("jobs"), REPO / "streaming_job.py"]:
        for line, module in _imports(path):
            if module.startswith("."):
                continue  # relative: inside jobs/
            if _root(module) not in allowed:
                offenders.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert offenders == []


def test_errors_module_is_stdlib_only():
    mods = {_root(m) for _, m in _imports(REPO / "pipectl" / "errors.py")}
    assert mods <= set(sys.stdlib_module_names) | {"__future__"}


@pytest.mark.parametrize("folder", ["pipectl"])
def test_heavy_sdks_are_imported_where_used(folder):
    offenders = []
    for path in _modules(folder):
        for line, module in _imports(path, top_level_only=True):
            if _root(module) in HEAVY:
                offenders.append(f"{path.relative_to(REPO)}:{line} imports {module} at the top")
    assert offenders == []


def test_the_producer_does_not_import_pipectl():
    """producer/cli.py runs on its own (`python producer/cli.py produce orders`): pipectl imports the
    producer, never the reverse."""
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in _modules("producer")
        for line, module in _imports(path)
        if _root(module) == "pipectl"
    ]
    assert offenders == []
