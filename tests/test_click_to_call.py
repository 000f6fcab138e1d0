"""A call cdr1c originated is outbound from the requesting extension: the real PBX's CDR rows
of click-to-call (tests/fixtures/asterisk22-live-scenarios, click_to_call_*) through the real
sync, in the ledger, the calls the reports read and the 1C register record; and the screen-pop
events of the recorded call, replayed byte for byte, name the dialled number."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from etl.config import DEFAULT_ONEC_FIELDS, parse_settings
from etl.ledger.store import Ledger
from etl.ledger.tables import calls, cdr_rows
from etl.onec.records import build_record
from etl.sandbox.ami import TOKEN, LiveStack, run
from etl.sync import sync_source
from tests.capture import capture_columns, load_cdr
from tests.conftest import LIVE_SCENARIOS, Databases
from tests.live_replay import Replay, Scenario

DIALLED = "84951234567"


def scenario_rows(name: str) -> list[dict[str, Any]]:
    """The `SELECT *` rows of a scenario, dates as the naive datetimes a driver gives."""
    times = {c for c, kind in capture_columns() if kind == "datetime"}
    lines = (LIVE_SCENARIOS / f"{name}.cdr.jsonl").read_text(encoding="utf-8").splitlines()
    return [
        {k: datetime.fromisoformat(v) if k in times and v else v for k, v in json.loads(line).items()}
        for line in lines
    ]


def as_cdr1c_originates(row: dict[str, Any], call_id: str, channel: str) -> dict[str, Any]:
    """The recorded row as cdr1c's own Originate leaves it: CallerID = the dialled number, so
    src = cnum = dst (what the issue saw), with cdr1c's ChannelId and the phone's channel."""
    return {
        **row,
        "src": row["dst"],
        "cnum": row["dst"],
        "clid": f'"{row["dst"]}" <{row["dst"]}>',
        "uniqueid": call_id,
        "linkedid": call_id,
        "channel": channel,
    }


@pytest.fixture
def synced(databases: Databases) -> Ledger:
    (cid101,) = scenario_rows("click_to_call_cid101")
    (nocid,) = scenario_rows("click_to_call_nocid")
    rows = [
        cid101,
        nocid,
        as_cdr1c_originates(cid101, "c1c-0123456789abcdef01234567", cid101["channel"]),
        as_cdr1c_originates(cid101, "c1c-pjsip", "PJSIP/101-0000002a"),
        as_cdr1c_originates(nocid, "c1c-sip", "SIP/101-00000007"),
        *scenario_rows("inbound_ringing_answered"),  # the inbound call stays what it is
    ]
    src_url = databases.url("sqlite")
    load_cdr(src_url, rows)
    settings = parse_settings(
        {"source": {"url": src_url, "timezone": "UTC"}, "state": {"url": databases.url("sqlite")}}
    )
    ledger = Ledger.open(settings.state.url)
    summary = sync_source(settings.sources["default"], ledger)
    assert (summary.new, summary.quarantined) == (len(rows), 0)
    return ledger


CLICK_TO_CALLS = ["c1c-live-01", "c1c-live-02", "c1c-0123456789abcdef01234567", "c1c-pjsip", "c1c-sip"]


def test_click_to_call_rows_are_outbound_from_the_extension_in_the_ledger_and_the_register(
    synced: Ledger,
) -> None:
    with synced.engine.connect() as conn:
        rows = {r.uniqueid: r._asdict() for r in conn.execute(select(cdr_rows))}
    for call_id in CLICK_TO_CALLS:
        row = rows[call_id]
        assert (row["direction"], row["extension"], row["external_number"]) == (
            "outbound",
            "101",
            "+74951234567",
        ), (call_id, row["src"], row["channel"])
        record = build_record(row, DEFAULT_ONEC_FIELDS, ZoneInfo("Europe/Moscow"))
        assert (record["Направление"], record["ДобавочныйНомер"], record["ВнешнийНомер"]) == (
            "outbound",
            "101",
            "+74951234567",
        )
    inbound = rows["1796555431.9"]
    assert (inbound["direction"], inbound["extension"], inbound["external_number"]) == (
        "inbound",
        "101",
        "+79161234567",
    )


def test_click_to_calls_are_outbound_calls_for_the_reports(synced: Ledger) -> None:
    with synced.engine.connect() as conn:
        found = {
            r.linkedid: (r.direction, r.extension, r.external_number, r.outcome)
            for r in conn.execute(select(calls))
        }
    for call_id in CLICK_TO_CALLS:
        assert found[call_id] == ("outbound", "101", "+74951234567", "answered"), call_id


@pytest.mark.parametrize(
    ("name", "call_id"), [("click_to_call_cid101", "c1c-live-01"), ("click_to_call_nocid", "c1c-live-02")]
)
def test_the_phones_events_of_a_click_to_call_name_the_dialled_number(name: str, call_id: str) -> None:
    """The Originate itself dials the phone, so Asterisk's DialBegin/DialEnd for it carry no
    calling channel and the phone's own caller ID (`101`, or none): the number comes from cdr1c,
    which knows what its ChannelId dials."""

    async def main() -> None:
        stack = LiveStack(
            channel="Local/{ext}@phones",
            call_ids=lambda: call_id,
            managers={"+74951234567": "101; ООО Ромашка"},
        )
        replay = Replay(stack.double, Scenario.load(name))
        async with stack, aiohttp.ClientSession(stack.url) as http:
            replay.watch(stack.client)
            sub = stack.hub.subscribe("101")
            async with http.post(
                "/v1/calls",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"from": "101", "to": "8 (495) 123-45-67"},
            ) as r:
                assert r.status == 201 and (await r.json())["id"] == call_id
            (originate,) = [dict(a) for a, _ in replay.answered]
            assert (originate["Channel"], originate["Exten"]) == ("Local/101@phones", DIALLED)
            await replay.rest()
            await replay.delivered()
            events = []
            while not sub.queue.empty():
                events.append(sub.queue.get_nowait())
        pops = [e for e in events if e["type"] in ("ringing", "answered", "hangup")]
        assert [e["type"] for e in pops] == ["ringing", "answered", "hangup"]
        for e in pops:
            assert (e["caller"], e["client"], e["linkedid"]) == ("+74951234567", "ООО Ромашка", call_id), e

    run(main())
