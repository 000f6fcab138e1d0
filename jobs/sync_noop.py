"""`cdr1c sync` when nothing changed: the look-back windows compared, no pandas, no SQLAlchemy.

Run from cron once a minute, a sync mostly finds nothing new; the full path then spends ~1 s
importing what it would need to normalise and write rows, for 0.06 s of work. Here, before
that, each source's look-back window is fingerprinted with its driver alone and compared with
the digest the last sync that found nothing new stored (etl/sources/window.py). When every
source matches, the run is recorded and logged as the full path would record it (same summary
keys, exit 0) and nothing is imported beyond the standard library, click and the driver.

Any doubt means the full path: a ledger other than an SQLite file, a CSV source or csv_fallback,
[onec] or [recordings] configured (their stages have work of their own every run), a missing or
outdated digest, any error here (the full path reports errors properly).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.config import Settings
from etl.errors import ExitCode
from etl.locks import job_lock
from etl.sources.window import WindowQuery, settings_key, window_start
from etl.urls import parse_db_url
from jobs.common import lag_text, log_summary, sigterm_raises

log = logging.getLogger("cdr1c.sync")


def ledger_file(url: str) -> Path | None:
    """The SQLite ledger file a state URL names, when it exists (the fast path reads no other).
    Read as SQLAlchemy reads it (`etl.urls`): the config writes a path resolved beside it
    percent-encoded (`%D0%94…` for a Cyrillic folder), which names the file once decoded."""
    parsed = parse_db_url(url)
    if parsed is None or parsed.drivername not in ("sqlite", "sqlite+pysqlite") or parsed.query:
        return None  # another driver, or URL options: the full path knows what they mean
    name = parsed.sqlite_file()
    return Path(name) if name and Path(name).is_file() else None


def nothing_new(settings: Settings, names: list[str]) -> ExitCode | None:
    """ExitCode.OK, after recording the run, when no source's window changed; None otherwise
    (the caller runs the full sync). Takes the same locks as the full sync."""
    path = ledger_file(settings.state.url)
    if path is None or settings.onec is not None or settings.recordings is not None:
        return None
    if any(settings.sources[n].is_csv or settings.sources[n].csv_fallback for n in names):
        return None
    started = datetime.now(UTC)
    clock = time.monotonic()
    with ExitStack() as stack:
        stack.enter_context(sigterm_raises())
        for name in names:
            stack.enter_context(job_lock(settings.lock_dir, "sync", name))
        try:
            conn = stack.enter_context(closing(sqlite3.connect(path, timeout=30)))
            sources = {}
            for name in names:
                summary = _unchanged(conn, settings, name)
                if summary is None:
                    return None
                sources[name] = summary
        except Exception as exc:  # the full path meets the same error and reports it
            log.debug("window check: %s", exc)
            return None
        for name, s in sources.items():
            log.info(
                "sync %s: read %d, new 0, already had %d, quarantined 0, calls 0, cursor %s, lag %s",
                name, s["read"], s["duplicates"], s["cursor"], lag_text(s["newest_us"]),
            )  # fmt: skip
        summary = {"trigger": "timer", "sources": sources, "errors": [], "window_unchanged": True}
        summary["duration_seconds"] = round(time.monotonic() - clock, 3)
        _record_run(conn, started, summary)
    log_summary("sync", ExitCode.OK, summary)
    return ExitCode.OK


def _unchanged(conn: sqlite3.Connection, settings: Settings, name: str) -> dict[str, Any] | None:
    """The source's summary when its window holds what the stored digest says, else None."""
    src = settings.sources[name]
    cursor = conn.execute('SELECT "column", value FROM cursors WHERE source = ?', (name,)).fetchone()
    stored = conn.execute(
        'SELECT "column", cursor, table_name, column_name, "rows", digest FROM source_windows '
        "WHERE source = ?",
        (name,),
    ).fetchone()
    query = WindowQuery.from_url(src.url)
    if cursor is None or stored is None or query is None or tuple(cursor) != tuple(stored[:2]):
        return None
    column, value, table, column_name, rows, digest = stored
    now = query.fingerprint(table, column_name, window_start(column, value, src.lookback), settings_key(src))
    if now != (rows, digest):
        return None
    (newest,) = conn.execute("SELECT MAX(calldate_us) FROM cdr_rows WHERE source = ?", (name,)).fetchone()
    return {"source": name, "read": rows, "new": 0, "duplicates": rows, "quarantined": 0, "calls": 0,
            "cursor": value, "newest_us": newest, "oldest_new_us": None, "dry_run": False}  # fmt: skip


def _record_run(conn: sqlite3.Connection, started: datetime, summary: dict[str, Any]) -> None:
    """The run in `runs`, as `Ledger.start_run` / `finish_run` write it (naive UTC text, the
    form SQLAlchemy's DateTime uses on SQLite)."""

    def stamp(t: datetime) -> str:
        return t.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    with conn:
        conn.execute(
            "INSERT INTO runs (job, started, finished, status, exit_code, summary) VALUES (?, ?, ?, ?, ?, ?)",
            ("sync", stamp(started), stamp(datetime.now(UTC)), "ok", int(ExitCode.OK),
             json.dumps(summary, ensure_ascii=False, default=str)),
        )  # fmt: skip
