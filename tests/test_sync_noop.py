"""The no-op fast path of `cdr1c sync` (jobs/sync_noop.py) leaves every ledger exactly as the full
path does: the same rows, hashes, calls, quarantine and cursors after every step, on the real
capture over each source back-end and on generated histories with rows added, edited and
deleted between runs (hypothesis). And it is taken when nothing changed."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

import jobs.sync
from etl.config import Settings, parse_settings
from etl.ledger.tables import calls, cdr_rows
from etl.sandbox.pbx import generate_history
from etl.sources.window import WindowQuery
from tests.capture import capture_rows, load_cdr
from tests.conftest import Databases, require_fixtures

ROW_COLUMNS = [c.name for c in cdr_rows.columns if c.name != "loaded_us"]
CALL_COLUMNS = [c.name for c in calls.columns if c.name != "updated_us"]


def both(source_url: str, tmp: Path) -> tuple[Settings, Settings]:
    """Settings for two ledgers reading the same source: the fast path allowed, and not."""

    def one(name: str) -> Settings:
        return parse_settings({
            "source": {"url": source_url, "timezone": "Europe/Moscow"},
            "state": {"url": f"sqlite:///{tmp / name}.sqlite"},
            "general": {"lock_dir": str(tmp / f"locks-{name}")},
        })  # fmt: skip

    return one("quick"), one("full")


def ledger_image(s: Settings) -> dict[str, list[tuple[Any, ...]]]:
    path = s.state.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM cdr_rows ORDER BY source, row_id")
        image = {"rows": rows.fetchall()}
        image["calls"] = conn.execute(
            f"SELECT {', '.join(CALL_COLUMNS)} FROM calls ORDER BY source, linkedid"
        ).fetchall()
        image["quarantine"] = conn.execute(
            "SELECT source, row_key, reason, raw FROM quarantine ORDER BY source, row_key"
        ).fetchall()
        image["cursors"] = conn.execute(
            'SELECT source, "column", value FROM cursors ORDER BY source'
        ).fetchall()
    return image


def last_run(s: Settings) -> dict[str, Any]:
    path = s.state.url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        status, code, summary = conn.execute(
            "SELECT status, exit_code, summary FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return {"status": status, "exit_code": code, **json.loads(summary)}


def sync_both(quick: Settings, full: Settings) -> bool:
    """One sync of each ledger; the two agree in exit code and ledger. Whether the quick one
    took the fast path."""
    code_quick = jobs.sync.run(quick)
    code_full = jobs.sync.run(full, quick=False)
    assert code_quick == code_full
    assert ledger_image(quick) == ledger_image(full)
    took = bool(last_run(quick).get("window_unchanged"))
    if took:  # the fast run's record says what the full one's says, nothing new
        fast, slow = last_run(quick)["sources"], last_run(full)["sources"]
        assert {n: {**v, "dry_run": False} for n, v in fast.items()} == slow
    return took


def execute(url: str, sql: str, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> None:
    """One statement at the source, in its own transaction (a list of parameter sets: many rows)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


@pytest.mark.parametrize("source_backend", ["sqlite", "mariadb", "postgres"])
def test_capture_fast_path_matches_the_full_path(
    databases: Databases, source_backend: str, tmp_path: Path
) -> None:
    require_fixtures()
    src_url = databases.url(source_backend)
    rows = capture_rows()
    load_cdr(src_url, rows)
    quick, full = both(src_url, tmp_path)
    assert WindowQuery.from_url(src_url) is not None
    assert not sync_both(quick, full)  # the first read: no cursor, no window
    assert not sync_both(quick, full)  # finds nothing new: stores the window's digest
    assert sync_both(quick, full)  # nothing changed since: the fast path
    assert sync_both(quick, full)

    # a row that turns up behind the cursor (Asterisk writes at hang-up)
    late = {**rows[0], "uniqueid": "1795650000.999", "linkedid": "1795650000.999", "sequence": 999,
            "calldate": rows[0]["calldate"] - timedelta(minutes=30)}  # fmt: skip
    load_more(src_url, [late])
    assert not sync_both(quick, full)
    assert not sync_both(quick, full)
    assert sync_both(quick, full)

    # a stored row changed in place: an identity conflict, quarantined by both, every run
    execute(src_url, "UPDATE cdr SET dst = :dst WHERE uniqueid = :u", {"dst": "999", "u": late["uniqueid"]})
    for _ in range(3):
        assert not sync_both(quick, full)
    # the row goes away: the window is clean again
    execute(src_url, "DELETE FROM cdr WHERE uniqueid = :u", {"u": late["uniqueid"]})
    assert not sync_both(quick, full)
    assert sync_both(quick, full)


def load_more(url: str, rows: list[dict[str, Any]]) -> None:
    cols = list(rows[0])
    names = ", ".join(f'"{c}"' if not url.startswith("mysql") else f"`{c}`" for c in cols)
    execute(url, f"INSERT INTO cdr ({names}) VALUES ({', '.join(':' + c for c in cols)})", rows)


STEP = st.one_of(
    st.tuples(st.just("add"), st.integers(1, 15)),
    st.tuples(st.just("edit"), st.integers(0, 10_000)),
    st.tuples(st.just("delete"), st.integers(0, 10_000)),
    st.tuples(st.just("nothing"), st.just(0)),
)


@settings(max_examples=8)
@given(seed=st.integers(0, 10_000), first=st.integers(1, 20), steps=st.lists(STEP, min_size=1, max_size=4))
def test_generated_histories_fast_path_matches_the_full_path(
    tmp_path_factory: pytest.TempPathFactory, seed: int, first: int, steps: list[tuple[str, int]]
) -> None:
    tmp = tmp_path_factory.mktemp("noop")
    # calls of the last hours, so the look-back window (6 h) holds some of them
    history = list(generate_history(60, seed, start=datetime(2026, 11, 20, 9), days=0.5))
    src_url = f"sqlite:///{tmp / 'cdr.sqlite'}"
    load_cdr_generated(src_url, history[:first])
    quick, full = both(src_url, tmp)
    sync_both(quick, full)
    loaded = first
    for kind, n in steps:
        if kind == "add" and loaded < len(history):
            load_more(src_url, [_text_dates(r) for r in history[loaded : loaded + n]])
            loaded += n
        elif kind in ("edit", "delete"):
            row = history[n % loaded]
            key = {"u": row["uniqueid"], "s": row["sequence"]}
            if kind == "edit":
                execute(src_url, "UPDATE cdr SET billsec = billsec + 1, duration = duration + 1 "
                                 "WHERE uniqueid = :u AND sequence = :s", key)  # fmt: skip
            else:
                execute(src_url, "DELETE FROM cdr WHERE uniqueid = :u AND sequence = :s", key)
        sync_both(quick, full)
    sync_both(quick, full)
    took = sync_both(quick, full)
    if all(kind != "edit" for kind, _ in steps):  # no conflicts in the window: nothing changed, fast
        assert took


def _text_dates(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else v for k, v in row.items()}


def load_cdr_generated(url: str, rows: list[dict[str, Any]]) -> None:
    kinds = {c: "INTEGER" if isinstance(v, int) else "TEXT" for c, v in rows[0].items()}
    execute(url, f"CREATE TABLE cdr ({', '.join(f'{c} {k}' for c, k in kinds.items())})")
    load_more(url, [_text_dates(r) for r in rows])


def test_other_settings_never_match_a_stored_window(databases: Databases, tmp_path: Path) -> None:
    """A digest taken under one time zone (or contexts, look-back…) is not reused under another."""
    require_fixtures()
    src_url = databases.url("sqlite")
    load_cdr(src_url, capture_rows())
    quick, full = both(src_url, tmp_path)
    for _ in range(3):
        sync_both(quick, full)
    assert bool(last_run(quick).get("window_unchanged"))
    source = replace(quick.sources["default"], timezone="UTC")
    moved = replace(quick, sources={"default": source})
    assert jobs.sync.run(moved) == 0
    assert not last_run(quick).get("window_unchanged")


def test_the_fast_path_finds_a_ledger_whose_folder_the_config_percent_encodes(tmp_path: Path) -> None:
    """A state URL resolved beside the config is written percent-encoded (etl/urls.py); the
    fast path must still find the file, as the full path (SQLAlchemy) does."""
    from etl.ledger.store import sqlite_file
    from etl.urls import parse_db_url
    from jobs.sync_noop import ledger_file

    folder = tmp_path / "Документы 100%"
    folder.mkdir()
    path = folder / "cdr1c-state.sqlite"
    path.write_bytes(b"")
    relative = parse_db_url("sqlite:///cdr1c-state.sqlite")
    assert relative is not None
    url = relative.with_sqlite_file(str(path))
    assert url is not None and "%D0%94" in url
    assert ledger_file(url) == sqlite_file(url) == path
    assert ledger_file(f"sqlite:///{path}") == path
    assert ledger_file(f"{url}?mode=ro") is None  # a query: the full path decides
    assert ledger_file("sqlite://") is None and ledger_file("sqlite:///:memory:") is None
    assert ledger_file(f"sqlite:///{folder / 'absent.sqlite'}") is None


def test_the_window_query_reads_a_source_url_as_sqlalchemy_does(tmp_path: Path) -> None:
    """The same file, database, user and password as the full path's engine: percent-encoded
    parts decoded (a source resolved beside the config is written so, etl/urls.py)."""
    from sqlalchemy.engine import make_url

    from etl.urls import parse_db_url

    path = tmp_path / "Документы 100%" / "cdr.sqlite"
    relative = parse_db_url("sqlite:///cdr.sqlite")
    assert relative is not None
    url = relative.with_sqlite_file(str(path))
    assert url is not None and "%D0%94" in url
    query = WindowQuery.from_url(url)
    assert query is not None and dict(query.connect)["path"] == make_url(url).database == str(path)
    server = "mysql+pymysql://us%40er:p%3Aw%40rd@db.example:3307/asterisk%2Dcdr"
    mysql = WindowQuery.from_url(server)
    expected = make_url(server)
    assert mysql is not None and dict(mysql.connect) == {
        "host": expected.host, "user": expected.username, "password": expected.password,
        "port": 3307, "database": expected.database, "charset": "utf8mb4",
    }  # fmt: skip
    assert WindowQuery.from_url("postgresql://u@h:notaport/db") is None
    assert WindowQuery.from_url(f"{url}?mode=ro") is None and WindowQuery.from_url("sqlite://") is None
