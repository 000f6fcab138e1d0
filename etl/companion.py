"""Rows Asterisk wrote to Master.csv but not to the database: found and loaded from the CSV.

cdr_adaptive_odbc only logs a failed INSERT; the row is lost to the database while cdr_csv /
cdr_custom keep it. A real Asterisk 22 lost every row whose caller name was cp1251 or cut
mid-character to MariaDB's strict utf8mb4 (docs/reference/asterisk.md §7). With `[source] csv_fallback`, each
sync reads the CSV after the database and loads the rows the ledger lacks, with row ids
prefixed `csv:` so `verify` can list them.

A row is "lacking" by its identity when the CSV carries `sequence` (cdr_custom, or cdr_csv with
`newcdrcolumns`), else by its natural key (uniqueid, start, destination channel, application,
disposition, durations). Only the part of the CSV that existed *before* the database was read
is considered, so a row written to both while the sync ran is never taken for a lost one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import SourceSettings
from etl.ledger.sql import select_in
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from etl.normalise import normalise_chunk
from etl.sources.csvfile import CsvSource
from etl.sync import OnCommit, SourceSummary, commit_chunk, existing_hashes, options_for

PREFIX = "csv:"
NATURAL = ("uniqueid", "calldate_us", "dstchannel", "lastapp", "disposition", "duration", "billsec")


@dataclass
class CompanionSummary:
    source: str
    read: int = 0
    missing_in_database: int = 0
    quarantined: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def csv_settings(settings: SourceSettings) -> SourceSettings:
    assert settings.csv_fallback
    return dataclasses.replace(settings, url="csv://" + settings.csv_fallback, identity="auto")


def csv_size(settings: SourceSettings) -> int:
    """The CSV's size now: the limit of what the next fill may consider."""
    try:
        return os.stat(settings.csv_fallback or "").st_size
    except OSError:
        return 0


def _natural(frame: pd.DataFrame) -> pd.Series:
    parts = [frame[c].astype(str).fillna("") for c in NATURAL]
    key = parts[0]
    for p in parts[1:]:
        key = key + "\x1f" + p
    return key


def _stored_natural(conn: Connection, source: str, uniqueids: list[str]) -> set[str]:
    rows = list(select_in(conn, cdr_rows, NATURAL, "uniqueid", uniqueids, {"source": source}))
    return set(_natural(pd.DataFrame.from_records(rows, columns=list(NATURAL)))) if rows else set()


def _chunks(src: CsvSource, cursor: str | None, limit: int, size: int) -> Iterator[pd.DataFrame]:
    for chunk in src.read(cursor, timedelta(0), size):
        chunk = chunk[chunk["_offset"] <= limit]
        if chunk.empty:
            return
        yield chunk


def fill_from_csv(
    settings: SourceSettings,
    ledger: Ledger,
    *,
    limit: int,
    on_commit: OnCommit | None = None,
    run_id: int | None = None,
) -> CompanionSummary:
    """Load the CSV rows (up to byte `limit`) that the ledger lacks into source `settings.name`."""
    summary = CompanionSummary(settings.name)
    src = CsvSource(csv_settings(settings))
    opts = options_for(csv_settings(settings), src.has_sequence, now_us())
    key = f"csvfill:{settings.name}"
    stored = ledger.get_cursor(key)
    cursor = stored[1] if stored else None
    for chunk in _chunks(src, cursor, limit, settings.chunk_size):
        normalised = normalise_chunk(chunk, opts)
        summary.read += len(chunk)
        rows = normalised.rows
        with ledger.begin() as conn:
            if len(rows):
                if src.has_sequence:
                    known = existing_hashes(conn, settings.name, rows["row_id"].tolist())
                    lacking = ~rows["row_id"].isin(list(known))
                else:
                    stored_keys = _stored_natural(conn, settings.name, list(pd.unique(rows["uniqueid"])))
                    lacking = ~_natural(rows).isin(stored_keys)
                rows = rows[lacking].assign(row_id=PREFIX + rows.loc[lacking, "row_id"])
                # a lost row found on an earlier run is not lost twice
                if len(rows):
                    again = existing_hashes(conn, settings.name, rows["row_id"].tolist())
                    rows = rows[~rows["row_id"].isin(list(again))]
            normalised.rows = rows
            part = SourceSummary(settings.name)
            commit_chunk(conn, normalised, part, on_commit, run_id)
            summary.missing_in_database += part.new
            summary.quarantined += part.quarantined
            after = src.chunk_cursor(chunk)
            if after is not None:
                ledger.set_cursor(conn, key, "offset", after)
        cursor = after
    return summary
