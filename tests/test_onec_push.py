"""The push over real HTTP to the stand-in, on every ledger back-end.

See docs/reference/onec-http.md §1.6–1.7.
"""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from etl.onec import outbox
from etl.onec.push import push
from etl.sandbox.standin import Faults, StandIn
from tests.conftest import CAPTURE, require_fixtures
from tests.onec_helpers import capture_rows, cdr_row, insert_rows, ledger_count, onec_settings, us

REG = "InformationRegister_ЗвонкиАТС"


def test_cyrillic_and_time_zone_end_to_end(ledger_url: str) -> None:
    with StandIn() as stand:
        s = onec_settings(stand.url, ledger_url)
        ledger = Ledger.open(ledger_url)
        insert_rows(
            ledger,
            [
                cdr_row(
                    row_id="строка-1",
                    clid='"Петрова Анна" <79031112233>',
                    cnam="Петрова Анна",
                    calldate_us=us("2026-03-29 00:30:00"),
                )
            ],
        )
        summary = push(s.onec, ledger)
        assert (summary.delivered, summary.dead, summary.retried) == (1, 0, 0)
        [rec] = stand.records()
        assert rec["ИмяАбонента"] == "Петрова Анна" and rec["ИдентификаторСтроки"] == "строка-1"
        assert rec["Дата"] == "2026-03-29T03:30:00"  # Europe/Moscow wall clock, UTC+3
        body = stand.stats.bodies[0].decode("utf-8")
        assert '"Дата": "2026-03-29T03:30:00"' in body and 'Z"' not in body
        ledger.close()


def test_time_zone_of_1c_is_configurable(ledger_url: str) -> None:
    with StandIn() as stand:
        s = onec_settings(stand.url, ledger_url, timezone="Asia/Yekaterinburg")
        ledger = Ledger.open(ledger_url)
        insert_rows(ledger, [cdr_row(calldate_us=us("2026-11-25 12:00:00", "Asia/Yekaterinburg"))])
        push(s.onec, ledger)
        assert stand.records()[0]["Дата"] == "2026-11-25T12:00:00"
        ledger.close()


def test_duplicate_key_counts_as_delivered_and_differences_are_patched(ledger_url: str) -> None:
    with StandIn() as stand:
        s = onec_settings(stand.url, ledger_url)
        ledger = Ledger.open(ledger_url)
        rows = [cdr_row(uniqueid=f"1700000000.{i}", billsec=10 + i) for i in range(3)]
        insert_rows(ledger, rows, queue=False)
        # 1C already holds row 0 exactly and row 1 with another billsec (a run killed after 1C wrote).
        from zoneinfo import ZoneInfo

        from etl.onec.records import build_record

        held = [build_record(r, s.onec.fields, ZoneInfo("Europe/Moscow")) for r in rows[:2]]  # type: ignore[union-attr]
        held[1]["ДлительностьРазговора"] = 999
        stand.add_rows(REG, held)
        with ledger.begin() as c:
            outbox.enqueue(c, "default", [r["row_id"] for r in rows])
            outbox.enqueue(c, "default", [r["row_id"] for r in rows])  # idempotent
        summary = push(s.onec, ledger)
        assert (summary.delivered, summary.already_held, summary.patched, summary.dead) == (
            2,
            1,
            1,
            0,
        )
        assert stand.stats.duplicates == 2 and stand.stats.creates == 1
        by_id = {r["ИдентификаторСтроки"]: r for r in stand.records()}
        assert by_id[rows[1]["row_id"]]["ДлительностьРазговора"] == 11
        assert ledger_count(ledger, outbox.outbox) == 0 and ledger_count(ledger, outbox.delivered) == 3
        ledger.close()


def test_only_new_or_changed_records_are_sent(ledger_url: str) -> None:
    with StandIn() as stand:
        s = onec_settings(stand.url, ledger_url)
        ledger = Ledger.open(ledger_url)
        rows = [cdr_row(uniqueid=f"1700000001.{i}", linkedid="1700000001.0") for i in range(4)]
        insert_rows(ledger, rows)
        assert push(s.onec, ledger).delivered == 4
        before = stand.stats.requests
        with ledger.begin() as c:  # re-enqueue with nothing changed: no request at all
            outbox.enqueue(c, "default", [r["row_id"] for r in rows])
        again = push(s.onec, ledger)
        assert (again.unchanged, again.delivered) == (4, 0) and stand.stats.requests == before
        # reconciliation finds the event of this call: every leg's record changes → PATCH
        from etl.ledger.tables import call_links

        ev = "51012ccc-397d-11de-b595-00055d80a2b9"
        with ledger.begin() as c:
            c.execute(
                call_links.insert().values(
                    source="default",
                    linkedid="1700000001.0",
                    status="matched",
                    event_ref=ev,
                    updated_us=0,
                )
            )
            outbox.enqueue(c, "default", [r["row_id"] for r in rows])
        changed = push(s.onec, ledger)
        assert changed.patched == 4
        assert {r["Событие_Key"] for r in stand.records()} == {ev}
        ledger.close()


def test_content_rejections_become_dead_letters_with_1c_text(ledger_url: str) -> None:
    with StandIn() as stand:
        s = onec_settings(
            stand.url,
            ledger_url,
            fields={
                **onec_settings("http://x", "").onec.fields,  # type: ignore[union-attr]
                "Клиент_Key": "cnam",
            },
        )  # a name into a GUID field
        ledger = Ledger.open(ledger_url)
        insert_rows(
            ledger,
            [
                cdr_row(uniqueid="1.1", cnam="пароль-секрет Иванов"),
                cdr_row(uniqueid="1.2", cnam="51012ccc-397d-11de-b595-00055d80a2b9"),
            ],
        )
        summary = push(s.onec, ledger)
        assert (summary.delivered, summary.dead) == (1, 1)
        with ledger.engine.connect() as c:
            [dl] = c.execute(select(outbox.dead_letters)).mappings().all()
        assert dl["status"] == 400 and dl["code"] == "1"
        assert "Edm.Guid" in dl["message"]  # 1C's own text
        assert "пароль-секрет" not in dl["message"] and "пароль-секрет" not in dl["record"]  # redacted
        assert json.loads(dl["record"])["ИдентификаторСтроки"] == "1.1:0"
        assert ledger_count(ledger, outbox.outbox) == 0
        ledger.close()


def test_unreachable_1c_keeps_rows_queued(ledger_url: str) -> None:
    with StandIn(faults=Faults(error_rate=1.0)) as stand:
        s = onec_settings(stand.url, ledger_url, retries=1)
        ledger = Ledger.open(ledger_url)
        insert_rows(ledger, [cdr_row(uniqueid=f"2.{i}") for i in range(3)])
        summary = push(s.onec, ledger)
        assert summary.unreachable and summary.delivered == 0
        assert ledger_count(ledger, outbox.outbox) == 3 and ledger_count(ledger, outbox.dead_letters) == 0
        ledger.close()


def test_dry_run_sends_nothing_and_shows_a_sample(ledger_url: str) -> None:
    with StandIn() as stand:
        s = onec_settings(stand.url, ledger_url)
        ledger = Ledger.open(ledger_url)
        insert_rows(ledger, [cdr_row(uniqueid=f"3.{i}") for i in range(7)])
        summary = push(s.onec, ledger, dry_run=True)
        assert summary.would_send == 7 and len(summary.sample) == 5 and stand.stats.requests == 0
        assert ledger_count(ledger, outbox.outbox) == 7
        ledger.close()


def test_capture_with_30_percent_failures_delivers_every_row_once(ledger_url: str) -> None:
    require_fixtures()
    with StandIn(faults=Faults(error_rate=0.15, drop_rate=0.15, seed=7)) as stand:
        s = onec_settings(stand.url, ledger_url, retries=10)
        ledger = Ledger.open(ledger_url)
        rows = capture_rows(CAPTURE)
        assert len(rows) == 48
        insert_rows(ledger, rows)
        for _ in range(3):  # a row whose retries all failed is tried by the next run
            push(s.onec, ledger)
            if ledger_count(ledger, outbox.outbox) == 0:
                break
        assert stand.stats.errors_injected + stand.stats.drops_injected > 10
        keys = sorted(stand.stats.created_keys)
        assert keys == sorted(("default", r["row_id"]) for r in rows)  # each created exactly once
        assert ledger_count(ledger, outbox.outbox) == 0 and ledger_count(ledger, outbox.dead_letters) == 0
        ledger.close()


def test_no_secret_in_logs_or_summary(ledger_url: str, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    with StandIn(faults=Faults(error_rate=0.5, drop_rate=0.3, seed=5)) as stand:
        s = onec_settings(stand.url, ledger_url)
        ledger = Ledger.open(ledger_url)
        insert_rows(ledger, [cdr_row(uniqueid=f"5.{i}") for i in range(10)])
        summary = push(s.onec, ledger)
        auth = base64.b64encode("Администратор:пароль-секрет".encode()).decode()
        text = caplog.text + repr(summary)
        assert "1C answered" in caplog.text or "transport error" in caplog.text  # failures were logged
        assert "пароль-секрет" not in text and auth not in text
        ledger.close()


def test_design_example_key_uniqueid_and_sequence(ledger_url: str) -> None:
    """design.md §5's example key: a string and a number dimension, through the duplicate path."""
    with StandIn(key=("ИдентификаторЗвонка", "Последовательность")) as stand:
        s = onec_settings(stand.url, ledger_url, key=("ИдентификаторЗвонка", "Последовательность"))
        ledger = Ledger.open(ledger_url)
        rows = [cdr_row(uniqueid="6.1", sequence=7, billsec=3)]
        insert_rows(ledger, rows)
        push(s.onec, ledger)
        with ledger.begin() as c:
            c.execute(outbox.delivered.delete())  # forget: as if killed after 1C wrote it
            c.execute(cdr_rows.update().values(billsec=4))
            outbox.enqueue(c, "default", [rows[0]["row_id"]])
        summary = push(s.onec, ledger)
        assert summary.patched == 1 and stand.records()[0]["ДлительностьРазговора"] == 4
        ledger.close()
