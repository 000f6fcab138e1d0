"""Reports read the ledger only: no module of etl/reports/ imports an etl.onec module."""

from __future__ import annotations

from tests.test_sandbox import ETL, imported_modules

REPORTS = ETL / "reports"


def test_reports_import_no_onec_module() -> None:
    offenders = {
        path.name: sorted(n for n in imported_modules(path) if n == "etl.onec" or n.startswith("etl.onec."))
        for path in sorted(REPORTS.rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_a_relative_import_of_onec() -> None:
    probe = REPORTS / "_probe.py"
    for source in ("from ..onec.reconcile import day_bounds_us\n", "from etl import onec\n"):
        probe.write_text(source, encoding="utf-8")
        try:
            assert any(n.startswith("etl.onec") for n in imported_modules(probe)), source
        finally:
            probe.unlink()
