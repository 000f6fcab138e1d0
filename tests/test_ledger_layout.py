"""The ledger owns its schema: its tables load without any stage, and the pure transforms read
the CDR column lists without loading the ledger's engine code."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from etl.ledger.sql import chunked
from etl.schema_sql import OUT_DIR


def _modules_after(statement: str) -> dict[str, list[str]]:
    """The `etl` modules a fresh interpreter has loaded after `statement`, and the names of
    the tables on the ledger's `metadata` then."""
    code = (
        f"import json, sys\n{statement}\n"
        "from etl.ledger.tables import metadata\n"
        "print(json.dumps({'modules': sorted(m for m in sys.modules if m.split('.')[0] == 'etl'),"
        " 'tables': sorted(metadata.tables)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout))


def test_every_table_is_known_without_importing_a_stage() -> None:
    got = _modules_after("import etl.ledger.store")
    shipped = re.findall(r"^CREATE TABLE (\w+)", (OUT_DIR / "sqlite.sql").read_text(), re.M)
    assert got["tables"] == sorted(shipped)
    stages = [m for m in got["modules"] if m.startswith(("etl.onec", "etl.recordings", "etl.reports"))]
    assert stages == []


def test_tables_import_only_sqlalchemy_and_the_column_lists() -> None:
    got = _modules_after("import etl.ledger.tables")
    assert got["modules"] == ["etl", "etl.cdr_columns", "etl.ledger", "etl.ledger.tables"]


def test_transforms_do_not_load_the_ledger() -> None:
    got = _modules_after("import etl.normalise")
    assert "etl.ledger.store" not in got["modules"] and "etl.ledger.sql" not in got["modules"]


@given(st.lists(st.integers()), st.integers(min_value=1, max_value=50))
def test_chunked_cuts_in_order_into_full_slices(values: list[int], size: int) -> None:
    parts = list(chunked(values, size))
    assert [v for p in parts for v in p] == values
    assert all(len(p) == size for p in parts[:-1])
    assert all(0 < len(p) <= size for p in parts)
