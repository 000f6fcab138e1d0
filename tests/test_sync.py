"""Incremental sync on the real Asterisk 22 capture, over every source and ledger back-end."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import create_engine, select, text

from etl.config import parse_settings
from etl.ledger.store import Ledger
from etl.ledger.tables import calls, cdr_rows, cursors, quarantine
from etl.sync import sync_source
from tests.capture import capture_rows, load_cdr
from tests.conftest import CAPTURE, Databases, require_fixtures

STABLE_ROW_COLUMNS = [c.name for c in cdr_rows.columns if c.name != "loaded_us"]
STABLE_CALL_COLUMNS = [c.name for c in calls.columns if c.name != "updated_us"]


def settings_for(source_url: str, ledger_url: str, **source: Any) -> Any:
    return parse_settings(
        {"source": {"url": source_url, "timezone": "UTC", **source}, "state": {"url": ledger_url}}
    )


def ledger_frame(ledger: Ledger, table: Any, columns: list[str], order: list[str]) -> pd.DataFrame:
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(*[table.c[c] for c in columns]).order_by(*[table.c[c] for c in order])
        ).all()
    return pd.DataFrame.from_records(rows, columns=columns)


@pytest.fixture
def capture() -> list[dict[str, Any]]:
    require_fixtures()
    return capture_rows()


@pytest.mark.parametrize("source_backend", ["sqlite", "mariadb", "postgres"])
def test_capture_from_every_source_backend(
    databases: Databases, source_backend: str, capture: list[dict[str, Any]]
) -> None:
    """The 48 real rows land once each, 31 calls, whatever database Asterisk wrote them to."""
    src_url = databases.url(source_backend)
    load_cdr(src_url, capture)
    settings = settings_for(src_url, databases.url("sqlite"))
    ledger = Ledger.open(settings.state.url)
    first = sync_source(settings.sources["default"], ledger)
    assert (first.read, first.new, first.quarantined) == (48, 48, 0)
    assert ledger.count(cdr_rows) == 48
    assert ledger.count(calls) == len({r["linkedid"] for r in capture}) == 31
    # every source row is in the ledger under its identity (uniqueid + sequence)
    stored = set(ledger_frame(ledger, cdr_rows, ["row_id"], ["row_id"])["row_id"])
    assert stored == {f"{r['uniqueid']}#{r['sequence']}" for r in capture}
    # a re-run with nothing new changes nothing
    before = ledger_frame(ledger, cdr_rows, STABLE_ROW_COLUMNS, ["row_id"])
    second = sync_source(settings.sources["default"], ledger)
    assert (second.new, second.quarantined, second.calls) == (0, 0, 0)
    assert second.duplicates == 48  # the look-back re-read them and recognised every one
    pd.testing.assert_frame_equal(before, ledger_frame(ledger, cdr_rows, STABLE_ROW_COLUMNS, ["row_id"]))


@pytest.mark.parametrize("source_backend", ["sqlite", "mariadb", "mariadb+mysqldb", "postgres"])
def test_two_process_read_equals_one_process_read(
    databases: Databases, source_backend: str, capture: list[dict[str, Any]]
) -> None:
    """A first sync reads in a second process (packed chunks; directions classified there or
    here, by driver); the ledger is the one a single-process read writes."""
    backend, _, driver = source_backend.partition("+")
    src_url = databases.url(backend)
    if driver:
        src_url = src_url.replace("+pymysql", f"+{driver}")
    load_cdr(src_url, capture)
    ledgers = []
    for prefetch in (True, False):
        settings = settings_for(src_url, databases.url("sqlite"))
        ledger = Ledger.open(settings.state.url)
        summary = sync_source(settings.sources["default"], ledger, prefetch=prefetch)
        assert (summary.read, summary.new, summary.calls) == (48, 48, 31)
        ledgers.append(
            (
                ledger_frame(ledger, cdr_rows, STABLE_ROW_COLUMNS, ["row_id"]),
                ledger_frame(ledger, calls, STABLE_CALL_COLUMNS, ["linkedid"]),
            )
        )
        ledger.close()
    (rows_two, calls_two), (rows_one, calls_one) = ledgers
    pd.testing.assert_frame_equal(rows_two, rows_one)
    pd.testing.assert_frame_equal(calls_two, calls_one)
    assert set(rows_one["direction"]) >= {"inbound", "internal"}  # classified, not left empty


def test_which_process_classifies() -> None:
    """Directions are classified in the reader where its driver parses rows in C."""
    from etl.sync import _reader_has_time

    def decide(url: str) -> bool:
        return _reader_has_time(settings_for(url, "sqlite://").sources["default"])

    assert not decide("mysql://root@127.0.0.1/asteriskcdrdb")  # pymysql
    assert not decide("mysql+pymysql://root@127.0.0.1/asteriskcdrdb")
    assert decide("mysql+mysqldb://root@127.0.0.1/asteriskcdrdb")
    assert decide("postgresql://u@127.0.0.1/cdr") and decide("sqlite:////var/lib/cdr.db")


def test_same_ledger_on_every_ledger_backend(
    ledger_url: str, databases: Databases, capture: list[dict]
) -> None:
    """The ledger holds the same rows and calls on SQLite, MariaDB and PostgreSQL."""
    src_url = databases.url("sqlite")
    load_cdr(src_url, capture)
    settings = settings_for(src_url, ledger_url)
    ledger = Ledger.open(ledger_url)
    summary = sync_source(settings.sources["default"], ledger)
    assert summary.new == 48
    rows = ledger_frame(
        ledger, cdr_rows, ["row_id", "calldate_us", "clid", "disposition", "amaflags"], ["row_id"]
    )
    # the Cyrillic-free capture names round-trip exactly, dates are the UTC instants
    first = next(r for r in capture if r["uniqueid"] == "1795650289.14")
    row = rows[rows["row_id"] == f"1795650289.14#{first['sequence']}"].iloc[0]
    assert row["clid"] == first["clid"]
    assert row["calldate_us"] == int(pd.Timestamp(first["calldate"], tz="UTC").value // 1000)
    assert set(rows["amaflags"]) == {"DOCUMENTATION"}  # FreePBX's numeric 3
    answered = ledger_frame(ledger, calls, ["linkedid", "outcome", "reason", "attempts"], ["linkedid"])
    ring_group = answered[answered["linkedid"] == "1795650319.42"].iloc[0]
    assert (ring_group["outcome"], ring_group["attempts"]) == ("answered", 3)
    ivr = answered[answered["linkedid"] == "1795650348.74"].iloc[0]
    assert (ivr["outcome"], ivr["reason"]) == ("missed", "ivr")
    assert sync_source(settings.sources["default"], ledger).new == 0
    ledger.close()


def test_late_row_of_a_long_call_is_captured(databases: Databases, capture: list[dict]) -> None:
    """A row written hours after later calls were synced (a long call) arrives next run."""
    src_url = databases.url("sqlite")
    early = [r for r in capture if r["linkedid"] != "1795650325.54"]
    late = [r for r in capture if r["linkedid"] == "1795650325.54"]
    assert late and len(early) + len(late) == 48
    load_cdr(src_url, early)
    settings = settings_for(src_url, databases.url("sqlite"), lookback="3h")
    ledger = Ledger.open(settings.state.url)
    assert sync_source(settings.sources["default"], ledger).new == len(early)
    cursor = ledger.get_cursor("default")
    assert cursor is not None and cursor[0] == "calldate"
    # the long call's row appears now, with a calldate well before the cursor
    engine = create_engine(src_url)
    with engine.begin() as conn:
        cols = list(late[0])
        conn.execute(
            text(f"INSERT INTO cdr ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"), late
        )
    engine.dispose()
    assert datetime.fromisoformat(cursor[1]) > late[0]["calldate"]
    again = sync_source(settings.sources["default"], ledger)
    assert again.new == len(late)
    assert ledger.count(cdr_rows) == 48 and ledger.count(calls) == 31


def test_rows_older_than_the_lookback_are_not_reread(databases: Databases, capture: list[dict]) -> None:
    """The look-back bounds the work of an incremental run (what makes `sync` cheap)."""
    src_url = databases.url("sqlite")
    load_cdr(src_url, capture)
    settings = settings_for(src_url, databases.url("sqlite"), lookback="60s")
    ledger = Ledger.open(settings.state.url)
    sync_source(settings.sources["default"], ledger)
    again = sync_source(settings.sources["default"], ledger)
    newest = max(r["calldate"] for r in capture)
    expected = sum(1 for r in capture if r["calldate"] >= newest - timedelta(seconds=60))
    assert again.read == expected < 48


def test_master_csv_and_cdr_custom(tmp_path: Path, databases: Databases, capture: list[dict]) -> None:
    """cdr_csv (18 columns: uniqueid + userfield) and cdr_custom with declared columns."""
    ledger_url = databases.url("sqlite")
    plain = settings_for(f"csv://{CAPTURE / 'Master.csv'}", ledger_url)
    ledger = Ledger.open(ledger_url)
    s1 = sync_source(plain.sources["default"], ledger)
    assert (s1.read, s1.new, s1.quarantined) == (48, 48, 0)  # no sequence: a row hash identifies
    custom_cols = [
        "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start",
        "answer", "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid",
        "userfield", "linkedid", "sequence", "recordingfile", "did",
    ]  # fmt: skip
    custom = parse_settings(
        {
            "source": {
                "pbx_custom": {
                    "url": f"csv://{CAPTURE / 'Master_custom.csv'}",
                    "timezone": "UTC",
                    "csv_columns": custom_cols,
                },
            },
            "state": {"url": ledger_url},
        }
    )
    s2 = sync_source(custom.sources["pbx_custom"], ledger)
    assert (s2.new, s2.quarantined) == (48, 0)
    ids = set(
        ledger_frame(ledger, cdr_rows, ["row_id"], ["row_id"]).query("row_id.str.contains('#')")["row_id"]
    )
    assert ids == {f"{r['uniqueid']}#{r['sequence']}" for r in capture}
    # the CSV cursor is a byte offset: nothing is re-read
    assert sync_source(custom.sources["pbx_custom"], ledger).read == 0
    with ledger.engine.connect() as conn:
        value = conn.execute(select(cursors.c.value).where(cursors.c.source == "pbx_custom")).scalar_one()
    assert int(value.split(":")[1]) == (CAPTURE / "Master_custom.csv").stat().st_size


def test_csv_appended_rows_and_half_written_line(tmp_path: Path, databases: Databases) -> None:
    """Rows appended later are read from the offset; a line without its newline waits."""
    require_fixtures()
    lines = (CAPTURE / "Master.csv").read_bytes().splitlines(keepends=True)
    path = tmp_path / "Master.csv"
    path.write_bytes(b"".join(lines[:10]) + lines[10][:40])  # Asterisk is mid-write
    settings = settings_for(f"csv://{path}", databases.url("sqlite"))
    ledger = Ledger.open(settings.state.url)
    assert sync_source(settings.sources["default"], ledger).new == 10
    path.write_bytes(b"".join(lines))
    second = sync_source(settings.sources["default"], ledger)
    assert (second.read, second.new) == (38, 38)
    assert ledger.count(quarantine) == 0


def test_csv_with_cp1251_and_cut_utf8_names(tmp_path: Path, databases: Databases) -> None:
    """cdr_csv keeps the raw bytes a trunk sent: each field is decoded on its own."""
    require_fixtures()
    line = (CAPTURE / "Master.csv").read_bytes().splitlines(keepends=True)[2]
    cp1251 = line.replace(b'"""Petrova A.""', '"""Иван Петров""'.encode("cp1251"))
    cut = line.replace(b'"""Petrova A.""', '"""Иван'.encode() + "П".encode()[:1] + b'""').replace(
        b"1795650298.22", b"1795650298.99"
    )
    path = tmp_path / "Master.csv"
    path.write_bytes(cp1251 + cut)
    settings = settings_for(f"csv://{path}", databases.url("sqlite"))
    ledger = Ledger.open(settings.state.url)
    assert sync_source(settings.sources["default"], ledger).new == 2
    clids = set(ledger_frame(ledger, cdr_rows, ["clid"], ["clid"])["clid"])
    assert clids == {'"Иван Петров" <79031112233>', '"Иван" <79031112233>'}


def test_dry_run_writes_nothing(databases: Databases, capture: list[dict]) -> None:
    src_url = databases.url("sqlite")
    load_cdr(src_url, capture)
    settings = settings_for(src_url, databases.url("sqlite"))
    ledger = Ledger.open(settings.state.url)
    summary = sync_source(settings.sources["default"], ledger, dry_run=True)
    assert summary.new == 48 and len(summary.sample) == 5
    assert ledger.count(cdr_rows) == 0 and ledger.get_cursor("default") is None


def test_window_is_independent_of_the_live_cursor(databases: Databases, capture: list[dict]) -> None:
    src_url = databases.url("sqlite")
    load_cdr(src_url, capture)
    settings = settings_for(src_url, databases.url("sqlite"))
    ledger = Ledger.open(settings.state.url)
    lo = datetime(2026, 11, 25, 23, 45, 0)
    hi = datetime(2026, 11, 25, 23, 46, 0)
    summary = sync_source(settings.sources["default"], ledger, window=(lo, hi), resume_key="bf:test")
    expected = sum(1 for r in capture if lo <= r["calldate"] < hi)
    assert summary.new == expected > 0
    assert ledger.get_cursor("default") is None  # the live cursor did not move
    assert ledger.get_cursor("bf:test") is not None  # the backfill can resume
    full = sync_source(settings.sources["default"], ledger)
    assert full.new == 48 - expected


def test_c_driver_mysqlclient(databases: Databases, capture: list[dict]) -> None:
    """`mysql+mysqldb://` (mysqlclient, the C driver) reads the same rows as pymysql."""
    import importlib.util
    import os

    if importlib.util.find_spec("MySQLdb") is None:
        if os.environ.get("CI"):
            pytest.fail("mysqlclient is not installed (.ci/services installs it)", pytrace=False)
        pytest.skip("mysqlclient is not installed")
    src_url = databases.url("mariadb")
    load_cdr(src_url, capture)
    c_url = src_url.replace("mysql+pymysql://", "mysql+mysqldb://")
    a = Ledger.open(databases.url("sqlite"))
    b = Ledger.open(databases.url("sqlite"))
    sync_source(settings_for(src_url, "sqlite://").sources["default"], a)
    sync_source(settings_for(c_url, "sqlite://").sources["default"], b)
    cols = [c for c in STABLE_ROW_COLUMNS]
    pd.testing.assert_frame_equal(
        ledger_frame(a, cdr_rows, cols, ["row_id"]), ledger_frame(b, cdr_rows, cols, ["row_id"])
    )
    assert b.count(cdr_rows) == 48


def test_a_future_dated_row_does_not_move_the_cursor_past_real_rows(
    databases: Databases, capture: list[dict]
) -> None:
    """A row dated 2099 is quarantined, and the next real rows are still read."""
    src_url = databases.url("sqlite")
    future = dict(
        capture[0], uniqueid="4070908800.1", calldate=datetime(2099, 1, 1), start=datetime(2099, 1, 1)
    )
    load_cdr(src_url, [*capture[:10], future])
    settings = settings_for(src_url, databases.url("sqlite"), lookback="1m")
    ledger = Ledger.open(settings.state.url)
    first = sync_source(settings.sources["default"], ledger)
    assert (first.new, first.quarantined) == (10, 1)
    cursor = ledger.get_cursor("default")
    assert cursor is not None and cursor[1].startswith("2026-")
    engine = create_engine(src_url)
    with engine.begin() as conn:
        rest = capture[10:]
        cols = list(rest[0])
        conn.execute(
            text(f"INSERT INTO cdr ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"), rest
        )
    engine.dispose()
    assert sync_source(settings.sources["default"], ledger).new == 38
