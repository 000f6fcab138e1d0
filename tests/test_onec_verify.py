"""`verify` (source vs ledger vs 1C register per day) and the `reconcile` verb."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from etl.config import parse_settings
from etl.ledger.store import Ledger
from etl.onec.push import push
from etl.onec.verify import verify
from etl.sandbox.standin import StandIn
from etl.sources import open_source
from jobs.cli import cli
from jobs.verify import render
from tests.capture import capture_rows as capture_rows_of_db
from tests.capture import load_cdr
from tests.conftest import CAPTURE, Databases, require_fixtures
from tests.onec_helpers import cdr_row, insert_rows, onec_settings, us
from tests.test_onec_reconcile import add_calls, seed_crm


def test_verify_counts_per_day_in_1c_zone_and_flags_mismatch(ledger_url: str) -> None:
    with StandIn() as stand:
        s = onec_settings(stand.url, ledger_url)
        ledger = Ledger.open(ledger_url)
        # 21:30 UTC is already the next day in Moscow
        insert_rows(
            ledger,
            [
                cdr_row(uniqueid="1.1", calldate_us=us("2026-11-24 20:00:00")),
                cdr_row(uniqueid="1.2", calldate_us=us("2026-11-24 21:30:00")),
                cdr_row(uniqueid="1.3", calldate_us=us("2026-11-25 10:00:00")),
            ],
        )
        push(s.onec, ledger)
        source = {date(2026, 11, 24): 1, date(2026, 11, 25): 2}
        rows = verify(s, ledger, date(2026, 11, 24), date(2026, 11, 25), source_counter=lambda *_: source)
        assert [(r.day.day, r.in_source, r.in_ledger, r.in_register, r.ok) for r in rows] == [
            (24, 1, 1, 1, True),
            (25, 2, 2, 2, True),
        ]
        stand.sets[s.onec.register].rows.popitem()  # type: ignore[union-attr]  # 1C lost a record
        rows = verify(s, ledger, date(2026, 11, 24), date(2026, 11, 25), source_counter=lambda *_: source)
        assert [r.ok for r in rows].count(False) == 1
        assert "mismatch" in render(rows)
        ledger.close()


def test_reconcile_verb_prints_counts_and_report_paths(tmp_path: Path) -> None:
    with StandIn() as stand:
        seed_crm(stand)
        ledger_url = f"sqlite:///{tmp_path / 'state.sqlite'}"
        ledger = Ledger.open(ledger_url)
        add_calls(ledger)
        ledger.close()
        cfg = tmp_path / "cdr1c.toml"
        cfg.write_text(
            f'[source]\nurl = "sqlite:///{tmp_path / "cdr.sqlite"}"\ntimezone = "UTC"\n'
            f'[state]\nurl = "{ledger_url}"\n'
            f'[reports]\ndir = "{tmp_path / "out"}"\ntimezone = "Europe/Moscow"\n'
            f'[onec]\nurl = "{stand.url}"\nuser = "Администратор"\npassword = "${{ONEC_PW}}"\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(
            cli,
            ["--config", str(cfg), "reconcile", "--since", "2026-11-25", "--until", "2026-11-25"],
            env={"ONEC_PW": "пароль-секрет"},
        )
        assert result.exit_code == 0, result.output
        assert "answered inbound call without an event" in result.output
        assert (tmp_path / "out" / "reconciliation.csv").exists()
        assert "пароль-секрет" not in result.output


@pytest.mark.parametrize("backend", ["sqlite", "mariadb", "postgres", "csv"])
def test_source_counts_per_day_of_the_1c_zone(databases: Databases, backend: str) -> None:
    """A PBX whose clock is in UTC, 1C in Moscow (or New York): the source is counted per day
    of 1C's zone, as the ledger and the register are (the oracle converts each row's time)."""
    require_fixtures()
    rows = capture_rows_of_db()
    if backend == "csv":
        url = f"csv://{CAPTURE / 'Master.csv'}"
    else:
        url = databases.url(backend)
        load_cdr(url, rows)
    settings = parse_settings({"source": {"url": url, "timezone": "UTC"}})
    src = open_source(settings.sources["default"])
    try:
        first, last = date(2026, 11, 24), date(2026, 11, 27)
        assert src.count_by_day(first, last) == {date(2026, 11, 25): 48}  # the PBX's own days
        for zone in ("Europe/Moscow", "America/New_York", "UTC"):
            expected = Counter(
                r["calldate"].replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date() for r in rows
            )
            got = {d: n for d, n in src.count_by_day(first, last, zone).items() if n}
            assert got == dict(expected), zone
    finally:
        src.close()
