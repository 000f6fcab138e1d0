"""`verify` (source vs ledger vs 1C register per day) and the `reconcile` verb."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner

from etl.onec.push import push
from etl.onec.standin import StandIn
from etl.onec.verify import verify
from etl.store import Ledger
from jobs.cli import cli
from jobs.verify import render
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
        push(s, ledger)
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
