"""Normalisation: hostile rows go to quarantine with reasons, good rows load, nothing is lost."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, create_engine

from etl.config import parse_settings
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, quarantine
from etl.normalise import Options, decode_bytes, normalise_chunk, to_utc_us
from etl.sync import sync_source
from tests.conftest import Databases

GOOD: dict[str, Any] = {
    "calldate": "2026-11-25 10:00:00",
    "clid": '"Иван Петров" <79161234567>',
    "src": "79161234567",
    "dst": "101",
    "dcontext": "from-did-direct",
    "channel": "PJSIP/trunk-00000001",
    "dstchannel": "PJSIP/101-00000002",
    "lastapp": "Dial",
    "lastdata": "PJSIP/101,20,tT",
    "duration": 30,
    "billsec": 20,
    "disposition": "ANSWERED",
    "amaflags": 3,
    "accountcode": "",
    "uniqueid": "1795650289.14",
    "userfield": "",
    "did": "74951230000",
    "recordingfile": "",
    "cnum": "79161234567",
    "cnam": "Иван Петров",
    "linkedid": "1795650289.14",
    "sequence": 11,
}


def row(**changes: Any) -> dict[str, Any]:
    out = dict(GOOD)
    out.update(changes)
    return out


# Each hostile row with the reason it must be quarantined for (None: it must load).
HOSTILE: list[tuple[dict[str, Any], str | None]] = [
    (row(uniqueid="1.1", calldate="0000-00-00 00:00:00"), "calldate is empty or a sentinel"),
    (row(uniqueid="1.2", calldate="1000-01-01 00:00:00"), "calldate is empty or a sentinel"),
    (row(uniqueid="1.3", calldate="2026-13-45 99:00:00"), "calldate is not a date"),
    (row(uniqueid="1.4", calldate="not a date"), "calldate is not a date"),
    (row(uniqueid=""), "uniqueid is empty"),
    (row(uniqueid=None), "uniqueid is empty"),
    (row(uniqueid="1.5", duration=-5, billsec=0), "negative duration"),
    (row(uniqueid="1.6", billsec=-1), "negative billsec"),
    (row(uniqueid="1.7", duration=5, billsec=50), "billsec greater than duration"),
    (row(uniqueid="1.8", duration="abc"), "duration is not a number"),
    (row(uniqueid="x" * 200), "uniqueid longer than 150"),
    (row(uniqueid="1.9", calldate="2099-01-01 00:00:00"), "calldate is in the future"),
    # these load: odd text is decoded, not rejected
    (row(uniqueid="2.1", clid='"Иван Петров" <79161234567>'.encode("cp1251")), None),
    (row(uniqueid="2.2", cnam="Иван Петров".encode()[:-1]), None),
    (row(uniqueid="2.3", lastdata="x" * 10_000), None),
    (row(uniqueid="2.4", disposition=16, amaflags="DOCUMENTATION"), None),
    (row(uniqueid="2.5", disposition="congestion", amaflags=2), None),
    (row(uniqueid="2.6", linkedid="", sequence=1), None),
    (row(uniqueid="2.7", cnam="nul\x00byte"), None),
    # the same identity twice with the same content: one row; with other content: quarantine
    (row(uniqueid="3.1", sequence=5), None),
    (row(uniqueid="3.1", sequence=5), "duplicate"),
    (row(uniqueid="3.1", sequence=5, billsec=1), "identity conflict"),
]

OPTS = Options(
    source="pbx", timezone="Europe/Moscow", now_us=int(datetime(2026, 11, 26, tzinfo=UTC).timestamp() * 1e6)
)


def test_hostile_corpus_is_quarantined_with_reasons() -> None:
    frame = pd.DataFrame([r for r, _ in HOSTILE])
    result = normalise_chunk(frame, OPTS)
    expected_bad = [reason for _, reason in HOSTILE if reason not in (None, "duplicate")]
    reasons = sorted(q["reason"] for q in result.quarantine)
    assert len(reasons) == len(expected_bad)
    for want in expected_bad:
        assert any(r.startswith(want) for r in reasons), (want, reasons)
    loaded = result.rows.set_index("uniqueid")
    assert set(loaded.index) == {r["uniqueid"] for r, reason in HOSTILE if reason is None}
    assert result.duplicates == 1
    assert loaded.loc["2.1", "clid"] == '"Иван Петров" <79161234567>'
    assert loaded.loc["2.2", "cnam"] == "Иван Петро"  # the half character is gone, nothing else
    assert len(loaded.loc["2.3", "lastdata"]) == 10_000
    assert (loaded.loc["2.4", "disposition"], loaded.loc["2.4", "amaflags"]) == (
        "CONGESTION",
        "DOCUMENTATION",
    )
    assert (loaded.loc["2.5", "disposition"], loaded.loc["2.5", "amaflags"]) == ("CONGESTION", "BILLING")
    assert loaded.loc["2.6", "linkedid"] == "2.6"  # no linkedid: the call is the leg itself
    assert "\x00" not in loaded.loc["2.7", "cnam"]
    # raw values are kept, bytes as hex, so an operator can see exactly what came in
    cp = next(q for q in result.quarantine if "1.1" in q["raw"])
    assert '"calldate": "0000-00-00 00:00:00"' in cp["raw"]


def test_hostile_corpus_through_a_real_source(databases: Databases) -> None:
    """Through SQLite (which stores whatever Asterisk wrote) into the ledger: good rows load,
    bad ones are in the quarantine table with their reasons, and a re-run adds nothing."""
    url = databases.url("sqlite")
    md = MetaData()
    cols = [Column(k, LargeBinary if k in ("clid", "cnam") else String) for k in GOOD]
    table = Table("cdr", md, *cols)
    engine = create_engine(url)
    md.create_all(engine)
    with engine.begin() as conn:
        for r, _ in HOSTILE:
            values = {
                k: (v.encode() if isinstance(v, str) and k in ("clid", "cnam") else v) for k, v in r.items()
            }
            values = {
                k: (str(v) if isinstance(v, int) and k not in ("clid", "cnam") else v)
                for k, v in values.items()
            }
            conn.execute(table.insert().values(**values))
    engine.dispose()
    settings = parse_settings(
        {"source": {"url": url, "timezone": "Europe/Moscow"}, "state": {"url": databases.url("sqlite")}}
    )
    ledger = Ledger.open(settings.state.url)
    first = sync_source(settings.sources["default"], ledger)
    good = {r["uniqueid"] for r, reason in HOSTILE if reason is None}
    assert first.new == len(good)
    assert (
        first.quarantined
        == ledger.count(quarantine)
        == sum(1 for _, why in HOSTILE if why not in (None, "duplicate"))
    )
    again = sync_source(settings.sources["default"], ledger)
    assert (again.new, again.quarantined) == (0, 0)
    assert ledger.count(cdr_rows) == len(good)


def test_content_hash_covers_every_time_and_value() -> None:
    """FreePBX rows have no answer/end; the call time alone must still tell two rows apart (a
    row-hash identity would otherwise merge them), and whitespace-padded ids are stripped."""
    base = {k: v for k, v in row(uniqueid=" 5.1 ").items() if k != "sequence"}
    later = {**base, "calldate": "2026-11-25 10:00:05"}
    out = normalise_chunk(pd.DataFrame([base, later]), dataclasses.replace(OPTS, identity="hash"))
    assert len(out.rows) == 2 and out.duplicates == 0
    assert out.rows["content_hash"].nunique() == 2 and out.rows["row_id"].nunique() == 2
    assert set(out.rows["uniqueid"]) == {"5.1"}
    again = normalise_chunk(pd.DataFrame([later, base]), dataclasses.replace(OPTS, identity="hash"))
    assert set(again.rows["content_hash"]) == set(out.rows["content_hash"])  # stable, order-free


def test_decode_bytes() -> None:
    assert decode_bytes("Привет".encode()) == "Привет"
    assert decode_bytes("Привет".encode("cp1251")) == "Привет"
    assert decode_bytes("Привет".encode()[:-1]) == "Приве"
    assert decode_bytes(b"plain") == "plain"
    assert decode_bytes("№ 5".encode("cp1251")) == "№ 5"


def test_repeated_dst_hour_resolved_by_the_uniqueid_epoch() -> None:
    """2026-10-25 02:30 happens twice in Berlin; Asterisk's uniqueid epoch tells which."""
    local = pd.Series(pd.to_datetime(["2026-10-25 02:30:00"] * 3))
    first = int(datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp())  # 02:30 CEST
    second = int(datetime(2026, 10, 25, 1, 30, tzinfo=UTC).timestamp())  # 02:30 CET
    hints = pd.Series([first * 1e6, second * 1e6, None])
    out = to_utc_us(local, "Europe/Berlin", hints)
    assert list(out) == [first * 1_000_000, second * 1_000_000, first * 1_000_000]  # no hint: earlier
    gap = to_utc_us(pd.Series(pd.to_datetime(["2026-03-29 02:30:00"])), "Europe/Berlin")
    assert gap.iloc[0] == int(datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp()) * 1_000_000


text_values = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=30),
    st.none(),
    st.sampled_from(
        ["", "0000-00-00 00:00:00", "1970-01-01 00:00:00", "PJSIP/101-0000", "101", "+79161234567"]
    ),
)
int_values = st.one_of(st.integers(-10, 10_000), st.none(), st.sampled_from(["", "12", "x", "-1"]))
date_values = st.one_of(
    st.datetimes(min_value=datetime(1999, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.sampled_from(["", "0000-00-00 00:00:00", "1000-01-01 00:00:00", "garbage", None]),
)
cdr_row = st.fixed_dictionaries(
    {
        "calldate": date_values,
        "answer": date_values,
        "clid": text_values,
        "src": text_values,
        "dst": text_values,
        "dcontext": st.sampled_from(["from-internal", "from-did-direct", "from-trunk", "ext-queues", ""]),
        "channel": text_values,
        "dstchannel": text_values,
        "lastapp": st.sampled_from(["Dial", "Queue", "Playback", "Hangup", ""]),
        "duration": int_values,
        "billsec": int_values,
        "disposition": st.sampled_from(["ANSWERED", "NO ANSWER", "BUSY", "FAILED", 8, 16, "weird", None]),
        "amaflags": st.sampled_from([3, "DOCUMENTATION", 0, None, "x"]),
        "uniqueid": st.one_of(
            st.sampled_from(["1795650289.14", "1795650289.15", "", None]), st.text(max_size=10)
        ),
        "linkedid": st.one_of(st.just(""), st.sampled_from(["1795650289.14", "L2"])),
        "sequence": st.one_of(st.integers(0, 3), st.none()),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(cdr_row, min_size=1, max_size=25))
def test_every_row_is_accounted_for(rows: list[dict[str, Any]]) -> None:
    """Whatever comes in: each row is loaded, quarantined with a reason, or a duplicate."""
    result = normalise_chunk(pd.DataFrame(rows), Options(source="p", timezone="Europe/Moscow"))
    assert len(result.rows) + len(result.quarantine) + result.duplicates == len(rows)
    assert all(q["reason"] for q in result.quarantine)
    if len(result.rows):
        assert result.rows["row_id"].is_unique
        assert result.rows["calldate_us"].notna().all()
        assert (result.rows["duration"] >= 0).all() and (result.rows["billsec"] >= 0).all()
        assert result.rows["direction"].isin(["inbound", "outbound", "internal", "unknown"]).all()
        for col in ("clid", "src", "dst", "channel", "dstchannel"):
            assert result.rows[col].map(lambda v: isinstance(v, str)).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(cdr_row, min_size=1, max_size=15))
def test_normalisation_is_deterministic(rows: list[dict[str, Any]]) -> None:
    a = normalise_chunk(pd.DataFrame(rows), OPTS)
    b = normalise_chunk(pd.DataFrame(rows), OPTS)
    assert list(a.rows.get("row_id", [])) == list(b.rows.get("row_id", []))
    assert list(a.rows.get("content_hash", [])) == list(b.rows.get("content_hash", []))
    assert [q["row_key"] for q in a.quarantine] == [q["row_key"] for q in b.quarantine]


@pytest.mark.parametrize(
    ("src", "dst", "dcontext", "dstchannel", "direction", "external", "extension"),
    [
        ("79161234567", "101", "from-did-direct", "PJSIP/101-0001", "inbound", "+79161234567", "101"),
        ("89161234567", "600", "ext-group", "Local/102@phones-0001;1", "inbound", "+79161234567", "102"),
        ("101", "84951112233", "from-internal", "PJSIP/trunk-01", "outbound", "+74951112233", "101"),
        ("101", "102", "from-internal", "PJSIP/102-0002", "internal", None, "101"),
    ],
)
def test_direction(
    src: str, dst: str, dcontext: str, dstchannel: str, direction: str, external: str | None, extension: str
) -> None:
    from etl.config import FREEPBX_INBOUND_CONTEXTS, FREEPBX_OUTBOUND_CONTEXTS

    opts = Options(
        source="p",
        inbound_contexts=tuple(FREEPBX_INBOUND_CONTEXTS),
        outbound_contexts=tuple(FREEPBX_OUTBOUND_CONTEXTS),
    )
    out = normalise_chunk(
        pd.DataFrame([row(src=src, dst=dst, dcontext=dcontext, dstchannel=dstchannel)]), opts
    ).rows.iloc[0]
    got = [None if pd.isna(out[c]) else out[c] for c in ("direction", "external_number", "extension")]
    assert got == [direction, external, extension]
