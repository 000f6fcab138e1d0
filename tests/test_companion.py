"""Rows Asterisk wrote to Master.csv but lost from the database are found and loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import calls, cdr_rows
from jobs.cli import cli
from tests.capture import capture_rows, load_cdr
from tests.conftest import CAPTURE, Databases, require_fixtures

CUSTOM_COLUMNS = [
    "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start",
    "answer", "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid",
    "userfield", "linkedid", "sequence", "recordingfile", "did",
]  # fmt: skip
LOST = {"1795650298.22", "1795650363.94", "1795650449.179"}  # three legs the INSERT "failed" for


@pytest.mark.parametrize(
    ("csv_name", "columns"), [("Master_custom.csv", CUSTOM_COLUMNS), ("Master.csv", None)]
)
def test_lost_rows_come_from_the_csv(
    tmp_path: Path, databases: Databases, csv_name: str, columns: list[str] | None
) -> None:
    require_fixtures()
    rows = capture_rows()
    kept = [r for r in rows if r["uniqueid"] not in LOST]
    lost = len(rows) - len(kept)
    assert lost >= 3
    src = databases.url("sqlite")
    load_cdr(src, kept)
    cols = f"csv_columns = {columns!r}\n".replace("'", '"') if columns else ""
    cfg = tmp_path / "cdr1c.toml"
    cfg.write_text(
        f'[source]\nurl = "{src}"\ntimezone = "UTC"\ncsv_fallback = "{CAPTURE / csv_name}"\n{cols}'
        f'[state]\nurl = "sqlite:///{tmp_path / "ledger.sqlite"}"\n[general]\nlock_dir = "{tmp_path}"\n'
    )
    runner = CliRunner()
    first = runner.invoke(cli, ["--config", str(cfg), "sync"])
    assert first.exit_code == 0, first.output
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with ledger.engine.connect() as conn:
        ids = [r for (r,) in conn.execute(select(cdr_rows.c.row_id))]
    assert len(ids) == len(rows)  # nothing lost, nothing twice
    from_csv = [i for i in ids if i.startswith("csv:")]
    assert len(from_csv) == lost
    assert ledger.count(calls) == 31
    again = runner.invoke(cli, ["--config", str(cfg), "sync"])
    assert again.exit_code == 0 and ledger.count(cdr_rows) == len(rows)
    verify = runner.invoke(
        cli, ["--config", str(cfg), "verify", "--since", "2026-11-25", "--until", "2026-11-25"]
    )
    assert verify.exit_code == 0, verify.output
    assert "Master.csv has and the CDR database lacks" in verify.output
    assert all(u in verify.output for u in LOST)
