"""The dependency rules of ../DESIGN: pure engine, and streams/connectors kept apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = {"faust", "mode", "aiokafka", "kafka", "confluent_kafka", "redis", "firebase_admin", "aiohttp"}
PURE_PACKAGES = ["streams/engine", "streams/decisions", "streams/analytics"]
# The partition runtime and its store are pure too: Faust enters only through the adapters beside them.
PURE_MODULES = ["streams/pipeline/partition.py", "streams/pipeline/store.py", "streams/pipeline/records.py",
                "streams/pipeline/personalise.py", "streams/pipeline/catalog_view.py", "streams/pipeline/firings.py",
                "streams/pipeline/runtime.py", "streams/state/db.py", "streams/state/indexes.py",
                "streams/state/cache.py", "streams/state/keys.py"]  # fmt: skip
COMPOSITION_ROOTS = {"streams/cli.py", "streams/commands"}


def imported_roots(path: Path) -> set[str]:
    """Top-level module names a file imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def is_composition_root(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == root or rel.startswith(root + "/") for root in COMPOSITION_ROOTS)


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_engine_imports_no_io(package: str) -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(imported_roots(p) & IO_MODULES) for p in python_files(package)}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("module", PURE_MODULES)
def test_the_partition_runtime_imports_no_io(module: str) -> None:
    assert sorted(imported_roots(ROOT / module) & IO_MODULES) == []


def test_streams_does_not_import_connectors() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in python_files("streams")
        if not is_composition_root(p) and "connectors" in imported_roots(p)
    ]
    assert offenders == []


def test_connectors_do_not_import_streams() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in python_files("connectors") if "streams" in imported_roots(p)]
    assert offenders == []


def test_schemas_import_neither() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in python_files("schemas") if imported_roots(p) & {"streams", "connectors"}
    ]
    assert offenders == []


def test_rule_detects_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import faust\nfrom redis.asyncio import Redis\n")
    assert imported_roots(bad) & IO_MODULES == {"faust", "redis"}


def test_no_two_connectors_name_an_error_alike() -> None:
    # The composition root catches the errors of several connectors side by side (ingest, delivery, stores).
    where: dict[str, list[str]] = {}
    for path in python_files("connectors"):
        if path.name == "errors.py":
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    where.setdefault(node.name, []).append(path.parent.name)
    assert {name: packages for name, packages in where.items() if len(packages) > 1} == {}
