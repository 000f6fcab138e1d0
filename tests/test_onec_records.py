"""Ledger row → register record: wall-clock times in 1C's zone, types, hashes."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from etl.config import DEFAULT_ONEC_FIELDS, DEFAULT_ONEC_KEY
from etl.onec.records import (
    EMPTY_DATE,
    EMPTY_REF,
    build_record,
    differences,
    from_wall_clock,
    record_hash,
    register_structure,
    wall_clock,
)
from tests.onec_helpers import cdr_row, us

ZONES = ["Europe/Moscow", "Asia/Yekaterinburg", "Europe/Kaliningrad", "Asia/Vladivostok", "UTC"]


@given(st.integers(0, 4_000_000_000).map(lambda s: s * 1_000_000), st.sampled_from(ZONES))
def test_wall_clock_round_trip_is_naive_and_exact_to_the_second(t_us: int, zone: str) -> None:
    z = ZoneInfo(zone)
    text = wall_clock(t_us, z)
    assert len(text) == 19 and "Z" not in text and "+" not in text
    assert from_wall_clock(text, z) == t_us


def test_calldate_is_moscow_wall_clock_not_utc() -> None:
    row = cdr_row(calldate_us=us("2026-11-25 23:45:07"), answer_us=None)
    rec = build_record(row, DEFAULT_ONEC_FIELDS, ZoneInfo("Europe/Moscow"))
    assert rec["Дата"] == "2026-11-26T02:45:07"  # UTC+3, the next day
    assert rec["ВремяОтвета"] == EMPTY_DATE  # unanswered: 1C's empty date, never null
    assert rec["Клиент_Key"] == EMPTY_REF and rec["Событие_Key"] == EMPTY_REF
    assert rec["Последовательность"] == 0 and rec["ВнешнийНомер"] == ""


def test_hash_changes_with_derived_fields_only_when_they_change() -> None:
    z = ZoneInfo("Europe/Moscow")
    row = cdr_row()
    h0 = record_hash(build_record(row, DEFAULT_ONEC_FIELDS, z))
    assert record_hash(build_record(dict(row), DEFAULT_ONEC_FIELDS, z)) == h0
    row["event"] = "51012ccc-397d-11de-b595-00055d80a2b9"
    assert record_hash(build_record(row, DEFAULT_ONEC_FIELDS, z)) != h0


def test_differences_ignore_truncation_and_int_as_string() -> None:
    sent = {"К": "x", "Длинное": "a" * 300, "Число": 5, "Другое": "новое"}
    held = {"К": "x", "Длинное": "a" * 255, "Число": "5", "Другое": "старое"}
    assert differences(sent, held, ["К"]) == {"Другое": "новое"}


def test_register_structure_marks_keys_and_types() -> None:
    s = {f.name: f for f in register_structure(DEFAULT_ONEC_FIELDS, DEFAULT_ONEC_KEY)}
    assert s["Источник"].is_key and s["ИдентификаторСтроки"].is_key and not s["Дата"].is_key
    assert s["Дата"].edm_type == "Edm.DateTime" and s["Клиент_Key"].edm_type == "Edm.Guid"
    assert s["ИдентификаторСтроки"].length == 200
