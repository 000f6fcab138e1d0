"""The ledger schema shipped as SQL text in sql/ledger/ is what the code creates."""

from __future__ import annotations

import pytest

from etl.schema_sql import DIALECTS, OUT_DIR, ddl


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_sql_text_matches_metadata(dialect: str) -> None:
    path = OUT_DIR / f"{dialect}.sql"
    assert path.exists(), "run `make schema`"
    assert path.read_text(encoding="utf-8") == ddl(dialect), f"{path} is stale: run `make schema`"
