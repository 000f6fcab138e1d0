"""$metadata mapping check, readers of 1C (events, phones, employees) and reconciliation."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from sqlalchemy import select

from etl.config import Settings
from etl.ledger.store import Ledger
from etl.ledger.tables import call_links, calls, client_phones, employees, orphan_events
from etl.onec import outbox
from etl.onec.client import OnecClient
from etl.onec.metadata import mapping_problems, parse_metadata
from etl.onec.push import push
from etl.onec.readers import phones_of
from etl.onec.reconcile import match, reconcile
from etl.sandbox.crm import add_crm_sets
from etl.sandbox.standin import StandIn
from tests.onec_helpers import cdr_row, insert_rows, onec_settings, us

REG = "InformationRegister_ЗвонкиАТС"
ANNA = "11111111-1111-1111-1111-111111111111"
OOO = "22222222-2222-2222-2222-222222222222"
EV1 = "aaaaaaaa-0000-0000-0000-000000000001"
EV2 = "aaaaaaaa-0000-0000-0000-000000000002"
EV3 = "aaaaaaaa-0000-0000-0000-000000000003"
EV4 = "aaaaaaaa-0000-0000-0000-000000000004"
IVAN = "33333333-3333-3333-3333-333333333333"


def check_mapping(s: Settings) -> list[str]:
    """What `cdr1c check` does: the publication's $metadata, fresh, against the mapping."""
    assert s.onec is not None
    with OnecClient(s.onec) as client:
        return mapping_problems(s.onec, parse_metadata(client.metadata()))


def test_mapping_check_reports_unknown_fields_and_types() -> None:
    with StandIn() as stand:
        add_crm_sets(stand)
        s = onec_settings(stand.url, "sqlite://")
        assert check_mapping(s) == []
        fields = dict(s.onec.fields)  # type: ignore[union-attr]
        fields["ДлительностьРазговра"] = "billsec"  # a typo 1C would silently ignore on write
        fields["Дата"] = "src"  # a string into a DateTime field
        bad = onec_settings(stand.url, "sqlite://", fields=fields, event_call_id_field="НетТакого")
        problems = check_mapping(bad)
        assert any("ДлительностьРазговра" in p and "no such field" in p for p in problems)
        assert any("'Дата'" in p and "Edm.DateTime" in p for p in problems)
        assert any("НетТакого" in p for p in problems)


def test_mapping_check_register_missing_from_odata_content() -> None:
    with StandIn(register="InformationRegister_Другой") as stand:
        problems = check_mapping(onec_settings(stand.url, "sqlite://"))
        assert any("not in the OData content" in p and REG in p for p in problems)
        assert any("Document_Событие" in p for p in problems)


def test_parse_metadata_keys_and_lengths() -> None:
    with StandIn() as stand:
        idx = parse_metadata(stand.metadata_xml().encode())
    assert idx.keys[REG] == ["Источник", "ИдентификаторСтроки"]
    assert idx.sets[REG]["ИдентификаторСтроки"] == ("Edm.String", 200)


def test_phones_from_contact_information_fall_back_to_presentation() -> None:
    assert phones_of({"НомерТелефона": "89161234567"}, "RU") == {"+79161234567"}
    assert phones_of({"НомерТелефона": "", "Представление": "+7 (916) 123-45-67, 8 495 777-88-99"}, "RU") == {
        "+79161234567",
        "+74957778899",
    }
    assert phones_of({"Представление": "доб. 12"}, "RU") == set()


def seed_crm(stand: StandIn) -> None:
    add_crm_sets(stand)
    stand.add_rows(
        "Catalog_Контрагенты",
        [
            {"Ref_Key": ANNA, "Description": "Петрова Анна", "DeletionMark": False},
            {"Ref_Key": OOO, "Description": "ООО «Ромашка»", "DeletionMark": False},
        ],
    )
    stand.add_rows(
        "Catalog_Контрагенты_КонтактнаяИнформация",
        [
            {
                "Ref_Key": ANNA,
                "LineNumber": 1,
                "Тип": "Телефон",
                "НомерТелефона": "",
                "Представление": "+7 903 111-22-33",
            },
            {
                "Ref_Key": OOO,
                "LineNumber": 1,
                "Тип": "Телефон",
                "НомерТелефона": "84951112233",
                "Представление": "",
            },
            {
                "Ref_Key": OOO,
                "LineNumber": 2,
                "Тип": "АдресЭлектроннойПочты",
                "Представление": "a@b.ru",
            },
        ],
    )
    stand.add_rows(
        "Catalog_Пользователи",
        [{"Ref_Key": IVAN, "Description": "Иван Петров", "ВнутреннийНомер": ""}],
    )
    ev = "StandardODATA.Catalog_Контрагенты"
    stand.add_rows(
        "Document_Событие",
        [
            # by linkedid, right client
            {
                "Ref_Key": EV1,
                "Date": "2026-11-25T15:00:10",
                "ИдентификаторЗвонка": "100.1",
                "Контрагент": ANNA,
                "Контрагент_Type": ev,
                "Ответственный_Key": IVAN,
            },
            # by a leg's uniqueid, but the client is not the number's owner
            {
                "Ref_Key": EV2,
                "Date": "2026-11-25T15:10:00",
                "ИдентификаторЗвонка": "200.2",
                "Контрагент": OOO,
                "Контрагент_Type": ev,
            },
            # a call id the CDR never had
            {"Ref_Key": EV3, "Date": "2026-11-25T16:00:00", "ИдентификаторЗвонка": "999.9"},
            # outside the window
            {"Ref_Key": EV4, "Date": "2026-11-20T16:00:00", "ИдентификаторЗвонка": "100.1"},
        ],
    )


def add_calls(ledger: Ledger) -> None:
    def call(linkedid: str, start: str, direction: str, outcome: str, number: str) -> dict[str, object]:
        return {
            "source": "default",
            "linkedid": linkedid,
            "start_us": us(start),
            "answer_us": None,
            "end_us": us(start) + 60_000_000,
            "wait": 0,
            "talk": 50,
            "direction": direction,
            "external_number": number,
            "extension": "101",
            "outcome": outcome,
            "reason": "",
            "legs": 1,
            "attempts": 1,
            "updated_us": 0,
        }

    with ledger.begin() as c:
        c.execute(
            calls.insert(),
            [
                call("100.1", "2026-11-25 12:00:00", "inbound", "answered", "+79031112233"),
                call("200.1", "2026-11-25 12:10:00", "inbound", "answered", "+79031112233"),
                call("300.1", "2026-11-25 12:20:00", "inbound", "answered", "+74951112233"),
                call("400.1", "2026-11-25 12:30:00", "inbound", "missed", "+74951112233"),
            ],
        )
    insert_rows(
        ledger,
        [
            cdr_row(uniqueid="100.1", linkedid="100.1", calldate_us=us("2026-11-25 12:00:00")),
            cdr_row(uniqueid="200.1", linkedid="200.1", calldate_us=us("2026-11-25 12:10:00")),
            cdr_row(uniqueid="200.2", linkedid="200.1", calldate_us=us("2026-11-25 12:10:05")),
            cdr_row(uniqueid="300.1", linkedid="300.1", calldate_us=us("2026-11-25 12:20:00")),
            cdr_row(uniqueid="400.1", linkedid="400.1", calldate_us=us("2026-11-25 12:30:00")),
        ],
    )


def test_reconcile_end_to_end_writes_csv_json_and_push_carries_event(ledger_url: str, tmp_path: Path) -> None:
    with StandIn() as stand:
        seed_crm(stand)
        s = onec_settings(stand.url, ledger_url, extensions={"101": "Иван Петров"})
        ledger = Ledger.open(ledger_url)
        add_calls(ledger)
        assert push(s.onec, ledger).delivered == 5
        summary = reconcile(
            s.onec, ledger, since=date(2026, 11, 25), until=date(2026, 11, 25), out_dir=tmp_path
        )
        assert summary.counts == {
            "matched": 1,
            "mismatch": 1,
            "no_event": 1,
            "unlinked": 1,
            "event_without_call": 1,
        }
        with ledger.engine.connect() as c:
            links = {r.linkedid: r for r in c.execute(select(call_links))}
            assert links["100.1"].event_ref == EV1 and links["100.1"].client_ref == ANNA
            assert links["200.1"].status == "mismatch" and links["200.1"].phone_client_ref == ANNA
            assert links["300.1"].client_ref == OOO  # no event, client by phone
            assert [r.call_id for r in c.execute(select(orphan_events))] == ["999.9"]
            assert (
                c.execute(select(client_phones.c.phone).where(client_phones.c.client_ref == ANNA)).scalar()
                == "+79031112233"
            )
            assert c.execute(select(employees.c.extension)).scalar() == "101"
        rows = list(csv.DictReader(Path(summary.csv_path).read_text(encoding="utf-8").splitlines()))
        assert {r["status"] for r in rows} == {
            "matched",
            "mismatch",
            "no_event",
            "event_without_call",
        }
        assert any(r["client"] == "Петрова Анна" for r in rows)
        assert json.loads(Path(summary.json_path).read_text(encoding="utf-8"))["counts"]["no_event"] == 1
        # the changed calls were re-enqueued; the push PATCHes their event/client references
        assert summary.requeued_rows == 5  # 100.1, both legs of 200.1, 300.1 and 400.1 (client by phone)
        again = push(s.onec, ledger)
        assert again.patched == 5 and again.unchanged == 0
        held = {r["ИдентификаторСтроки"]: r for r in stand.records()}
        assert held["100.1:0"]["Событие_Key"] == EV1 and held["300.1:0"]["Клиент_Key"] == OOO
        # a second reconciliation with nothing new re-enqueues nothing
        assert (
            reconcile(
                s.onec, ledger, since=date(2026, 11, 25), until=date(2026, 11, 25), out_dir=tmp_path
            ).requeued_rows
            == 0
        )
        ledger.close()


def test_match_prefers_linkedid_then_any_leg() -> None:
    ev = {"ref_key": "e", "date_us": 0, "client_ref": None}
    res = match(
        [{"source": "s", "linkedid": "L", "direction": "outbound", "outcome": "answered"}],
        {("s", "L"): {"U1", "U2"}},
        {"U2": [ev]},
        {},
    )
    assert res[0]["status"] == "matched" and res[0]["event_ref"] == "e"


def test_reader_pages_through_many_events(ledger_url: str) -> None:
    with StandIn() as stand:
        add_crm_sets(stand)
        stand.add_rows(
            "Document_Событие",
            [
                {"Date": f"2026-11-25T10:{i // 60:02}:{i % 60:02}", "ИдентификаторЗвонка": f"{i}.1"}
                for i in range(1234)
            ],
        )
        s = onec_settings(stand.url, ledger_url)
        ledger = Ledger.open(ledger_url)
        from datetime import datetime

        from etl.ledger.tables import events
        from etl.onec.readers import read_events

        with ledger.begin() as c, OnecClient(s.onec) as client:  # type: ignore[arg-type]
            assert read_events(c, client, s.onec, datetime(2026, 11, 25), datetime(2026, 11, 26)) == 1234  # type: ignore[arg-type]
        with ledger.engine.connect() as c:
            assert len(c.execute(select(events.c.call_id)).all()) == 1234
        ledger.close()


_ = outbox
