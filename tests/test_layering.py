"""The core is pure: it never imports an adapter, the service, the scheduler, the CLI or I/O libraries."""

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "samplerr" / "core"
FORBIDDEN = (
    "samplerr.adapters",
    "samplerr.devserver",
    "samplerr.service",
    "samplerr.scheduler",
    "samplerr.metrics",
    "samplerr.cli",
    "elasticsearch",
    "confluent_kafka",
    "apscheduler",
    "typer",
    "socket",
    "http",
    "urllib",
    "subprocess",
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_adapter_or_io_library():
    offenders = {
        f"{path.name}: {name}"
        for path in CORE.glob("*.py")
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert not offenders, offenders


def test_core_exists():
    assert (CORE / "__init__.py").exists()
