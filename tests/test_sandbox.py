"""The sandbox (etl/sandbox/) stays out of production code: no module of etl/ outside it imports it."""

from __future__ import annotations

import ast
from pathlib import Path

ETL = Path(__file__).resolve().parent.parent / "etl"
SANDBOX = ETL / "sandbox"


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from … import` of `path` names, relative imports resolved."""
    package = ".".join(path.relative_to(ETL.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_no_production_module_imports_the_sandbox() -> None:
    offenders = {
        str(path.relative_to(ETL.parent)): sorted(
            n for n in imported_modules(path) if n.startswith("etl.sandbox")
        )
        for path in sorted(ETL.rglob("*.py"))
        if SANDBOX not in path.parents
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_every_way_of_importing_the_sandbox(tmp_path: Path) -> None:
    probe = ETL / "onec" / "_probe.py"
    for source in (
        "import etl.sandbox.standin\n",
        "from etl.sandbox import crm\n",
        "from etl import sandbox\n",
        "from ..sandbox.standin import StandIn\n",
    ):
        probe.write_text(source, encoding="utf-8")
        try:
            assert any(n.startswith("etl.sandbox") for n in imported_modules(probe)), source
        finally:
            probe.unlink()
