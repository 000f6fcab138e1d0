"""Incremental sync of one source into the ledger (design.md §4.1–4.2).

For each chunk read past the cursor (minus the look-back window): normalise, drop rows the
ledger already has (same identity, same content), quarantine what cannot be understood or
conflicts with a stored row, insert the rest, rebuild the calls they touch, let later stages
enqueue them (`on_commit`, same transaction), and move the cursor — all in one transaction,
so a crash at any point leaves either the whole chunk or none of it, and the next run's
look-back reads the rest again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, make_url

from etl.calls import group_calls
from etl.clock import now_us
from etl.config import SourceSettings
from etl.directions import Directions, add_directions
from etl.ledger.sql import bulk_write, frame_rows, insert_ignore, select_in, upsert
from etl.ledger.store import Ledger, now_utc
from etl.ledger.tables import calls, cdr_rows, quarantine, source_windows
from etl.normalise import LEDGER_ROW_COLUMNS, Normalised, Options, normalise_chunk
from etl.prefetch import in_child
from etl.sources import CdrSource, open_source
from etl.sources.base import time_cursor
from etl.sources.window import settings_key, window_start

OnCommit = Callable[[Connection, str, list[str]], None]
Progress = Callable[[int], None]
ROW_COLUMNS = [*LEDGER_ROW_COLUMNS, "loaded_us"]
LEG_COLUMNS = (
    "source", "linkedid", "row_id", "calldate_us", "answer_us", "end_us", "disposition",
    "dstchannel", "lastapp", "extension", "direction", "external_number", "sequence", "dst",
)  # fmt: skip


@dataclass
class SourceSummary:
    source: str
    read: int = 0
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    calls: int = 0
    cursor: str | None = None
    newest_us: int | None = None
    oldest_new_us: int | None = None  # the earliest call this run added (later stages' window)
    dry_run: bool = False
    sample: list[dict[str, Any]] = field(default_factory=list)
    clean: bool = True  # nothing this run read went to quarantine (new or known)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("clean")
        if not self.dry_run:
            d.pop("sample")
        return d


def options_for(settings: SourceSettings, has_sequence: bool, now_us: int | None = None) -> Options:
    return Options(
        source=settings.name,
        timezone=settings.timezone,
        region=settings.region,
        extension_pattern=settings.extension_pattern,
        inbound_contexts=settings.inbound_contexts,
        outbound_contexts=settings.outbound_contexts,
        trunk_channels=settings.trunk_channels,
        encoding_fallback=settings.encoding_fallback,
        identity="sequence" if has_sequence else "hash",
        now_us=now_us,
    )


def existing_hashes(conn: Connection, source: str, row_ids: Iterable[str]) -> dict[str, str]:
    rows = select_in(conn, cdr_rows, ("row_id", "content_hash"), "row_id", row_ids, {"source": source})
    return dict(rows)  # type: ignore[arg-type]


def _existing_keys(conn: Connection, source: str, keys: list[str]) -> set[str]:
    return {r for (r,) in select_in(conn, quarantine, ("row_key",), "row_key", keys, {"source": source})}


def legs_of(conn: Connection, source: str, linkedids: Iterable[str]) -> pd.DataFrame:
    """Every stored leg of these calls."""
    rows = list(select_in(conn, cdr_rows, LEG_COLUMNS, "linkedid", linkedids, {"source": source}))
    return pd.DataFrame.from_records(rows, columns=list(LEG_COLUMNS))


def rebuild_calls(conn: Connection, source: str, new_rows: pd.DataFrame) -> int:
    """Recompute the calls that `new_rows` belong to; legs stored earlier are read back."""
    if new_rows.empty:
        return 0
    linkedids = pd.unique(new_rows["linkedid"]).tolist()
    known = {r for (r,) in select_in(conn, calls, ("linkedid",), "linkedid", linkedids, {"source": source})}
    fresh = new_rows[~new_rows["linkedid"].isin(known)].loc[:, list(LEG_COLUMNS)]
    legs = pd.concat([fresh, legs_of(conn, source, known)], ignore_index=True) if known else fresh
    built = group_calls(legs)
    if built.empty:
        return 0
    for col in ("start_us", "end_us", "answer_us"):
        built[col] = built[col].astype("Int64")
    columns = [c.name for c in calls.columns]
    update = [c for c in columns if c not in ("source", "linkedid")]
    stamp = {"updated_us": now_us()}
    bulk_write(conn, calls, columns, frame_rows(built, calls, columns, stamp), update=update)
    return len(built)


def _later(column: str, a: str | None, b: str | None) -> str | None:
    """The further of two cursor values (the cursor never moves back)."""
    if a is None:
        return b
    if b is None:
        return a
    if column == "id":
        return a if int(a) >= int(b) else b
    if column == "offset":
        return b  # the file is read forward from the stored offset
    return a if datetime.fromisoformat(a) >= datetime.fromisoformat(b) else b


def normalised_chunks(
    settings: SourceSettings,
    opts: Options,
    cursor: str | None,
    window: tuple[datetime, datetime] | None,
    source: CdrSource | None = None,
    classify: bool = True,
) -> Iterator[tuple[int, str | None, Normalised]]:
    """(rows read, cursor after the chunk, normalised chunk) for each chunk of the source.

    Pure reading and transforming: it can run in a child process (`etl.prefetch`)."""
    src = source or open_source(settings)
    directions = Directions(opts) if classify else None
    try:
        if window is not None:
            chunks = src.read_window(window[0], window[1], settings.chunk_size)
        else:
            chunks = src.read(cursor, settings.lookback, settings.chunk_size)
        for chunk in chunks:
            after = _window_cursor(chunk) if window is not None else src.chunk_cursor(chunk)
            yield len(chunk), after, normalise_chunk(chunk, opts, directions, classify=classify)
    finally:
        if source is None:
            src.close()


def sync_source(
    settings: SourceSettings,
    ledger: Ledger,
    *,
    source: CdrSource | None = None,
    dry_run: bool = False,
    window: tuple[datetime, datetime] | None = None,
    resume_key: str | None = None,
    on_commit: OnCommit | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    run_id: int | None = None,
    prefetch: bool | None = None,
) -> SourceSummary:
    """Bring the ledger up to date with one source (or with a window of it, for backfill).

    With `window`, the live cursor is neither read nor moved; `resume_key` names a separate
    cursor so an interrupted backfill continues where it stopped. Full reads (no cursor yet,
    or a window) read and normalise in a second process while this one writes (`prefetch`,
    default: automatic).
    """
    own_source = source is None
    src = source or open_source(settings)
    summary = SourceSummary(source=settings.name, dry_run=dry_run)
    opts = options_for(settings, src.has_sequence, now_us())
    cursor_key = resume_key or settings.name
    stored = ledger.get_cursor(cursor_key)
    cursor_column = "window" if window is not None else src.cursor_column
    cursor = stored[1] if stored and stored[0] == cursor_column else None
    summary.cursor = cursor
    if window is not None and cursor is not None and resume_key:
        window = (max(window[0], datetime.fromisoformat(cursor) - settings.lookback), window[1])
    if prefetch is None:
        prefetch = not dry_run and (window is not None or cursor is None)
    before = _window_before(settings, src, cursor_column, cursor) if not dry_run and window is None else None
    try:
        if prefetch:
            if own_source:
                src.close()
            classify = _reader_has_time(settings)  # else the directions are added here, to balance
            produced = in_child(normalised_chunks, settings, opts, cursor, window, None, classify)
        else:
            produced = normalised_chunks(settings, opts, cursor, window, src)
        directions = Directions(opts)
        for read, next_cursor, normalised in produced:
            normalised.rows = add_directions(normalised.rows, directions)
            summary.read += read
            summary.duplicates += normalised.duplicates
            if dry_run:
                _dry_chunk(ledger, normalised, summary)
            else:
                with ledger.begin() as conn:
                    commit_chunk(conn, normalised, summary, on_commit, run_id)
                    new_cursor = _later(cursor_column, cursor, next_cursor)
                    if new_cursor is not None and new_cursor != cursor and (window is None or resume_key):
                        ledger.set_cursor(conn, cursor_key, cursor_column, new_cursor)
                        cursor = new_cursor
                summary.cursor = cursor
            if progress:
                progress(read)
            if stop is not None and stop.is_set():
                break
    finally:
        if own_source and not prefetch:
            src.close()
    whole = stop is None or not stop.is_set()
    same = before is not None and cursor == before["cursor"] and summary.read == before["rows"]
    if before is not None and same and whole and summary.clean and not summary.new:
        with ledger.begin() as conn:  # the window held nothing new: a next run like it can skip it
            upsert(conn, source_windows, [{**before, "updated": now_utc()}], update=list(before)[1:])
    summary.newest_us = newest_call_us(ledger, settings.name)
    return summary


def _window_before(
    settings: SourceSettings, src: CdrSource, column: str, cursor: str | None
) -> dict[str, Any] | None:
    """The look-back window's digest before this run reads it (`etl.sources.window`): kept when
    the run finds nothing new in it. Taken before the read, so a row that arrives meanwhile
    changes the next run's digest and that run reads it."""
    spec = src.window() if cursor is not None else None
    if spec is None or cursor is None:
        return None
    query, table, column_name = spec
    try:
        rows, digest = query.fingerprint(table, column_name, window_start(column, cursor, settings.lookback),
                                         settings_key(settings))  # fmt: skip
    except Exception:  # the full read below reports a source that fails; this is an optimisation
        return None
    return {"source": settings.name, "column": column, "cursor": cursor, "table_name": table,
            "column_name": column_name, "rows": rows, "digest": digest}  # fmt: skip


def _reader_has_time(settings: SourceSettings) -> bool:
    """Whether the reader process can classify directions too: where its driver parses rows in
    C (mysqlclient, psycopg, sqlite3) it waits for the writer, which SQLite keeps busy; with
    pymysql (the default for `mysql://`) or a CSV file, reading is most of its core
    (docs/benchmarks.md §1)."""
    if settings.is_csv:
        return False
    url = make_url(settings.url)
    if url.get_backend_name() not in ("mysql", "mariadb"):
        return True
    # a bare `mysql://` means pymysql here (etl.ledger.store.make_engine)
    return "+" in url.drivername and url.get_driver_name() in ("mysqldb", "mariadbconnector")


def _window_cursor(chunk: pd.DataFrame) -> str | None:
    return time_cursor(chunk["calldate" if "calldate" in chunk.columns else "start"])


def _split_known(conn: Connection, normalised: Normalised) -> tuple[pd.DataFrame, list[dict[str, Any]], int]:
    """New rows, conflicts with stored rows (as quarantine entries), and how many were known."""
    rows = normalised.rows
    if rows.empty:
        return rows, [], 0
    source = str(rows["source"].iat[0])
    known = existing_hashes(conn, source, rows["row_id"].tolist())
    if not known:
        return rows, [], 0
    stored = rows["row_id"].map(known)
    same = stored.notna() & (stored == rows["content_hash"])
    differs = stored.notna() & ~same
    conflicts = []
    for _, r in rows[differs].iterrows():
        conflicts.append(
            {
                "row_key": r["content_hash"],
                "reason": "identity conflict: the ledger holds another row with this uniqueid and sequence",
                "raw": pd.Series(r).drop(labels=["source"]).to_json(force_ascii=False),
            }
        )
    return rows[stored.isna()], conflicts, int(same.sum())


def commit_chunk(
    conn: Connection,
    normalised: Normalised,
    summary: SourceSummary,
    on_commit: OnCommit | None,
    run_id: int | None,
) -> None:
    """Store one normalised chunk inside `conn`'s transaction: new rows, their calls, new
    quarantine entries, and `on_commit` for the later stages; counts go into `summary`."""
    new_rows, conflicts, known = _split_known(conn, normalised)
    summary.duplicates += known
    entries = normalised.quarantine + conflicts
    summary.clean = summary.clean and not entries
    if entries:
        seen = _existing_keys(conn, summary.source, [e["row_key"] for e in entries])
        fresh = [e for e in entries if e["row_key"] not in seen]
        unique = {e["row_key"]: e for e in fresh}
        if unique:
            stamp = now_utc()
            insert_ignore(
                conn,
                quarantine,
                [
                    {**e, "source": summary.source, "first_seen": stamp, "run_id": run_id}
                    for e in unique.values()
                ],
            )
        summary.quarantined += len(unique)
    if new_rows.empty:
        return
    oldest = int(new_rows["calldate_us"].min())
    summary.oldest_new_us = oldest if summary.oldest_new_us is None else min(oldest, summary.oldest_new_us)
    loaded = {"loaded_us": now_us()}
    bulk_write(conn, cdr_rows, ROW_COLUMNS, frame_rows(new_rows, cdr_rows, ROW_COLUMNS, loaded))
    summary.new += len(new_rows)
    summary.calls += rebuild_calls(conn, summary.source, new_rows)
    if on_commit is not None:
        on_commit(conn, summary.source, new_rows["row_id"].tolist())


def _dry_chunk(ledger: Ledger, normalised: Normalised, summary: SourceSummary) -> None:
    with ledger.engine.connect() as conn:
        new_rows, conflicts, known = _split_known(conn, normalised)
        seen = _existing_keys(conn, summary.source, [e["row_key"] for e in normalised.quarantine + conflicts])
    summary.duplicates += known
    summary.quarantined += len({e["row_key"] for e in normalised.quarantine + conflicts} - seen)
    summary.new += len(new_rows)
    if len(summary.sample) < 5 and not new_rows.empty:
        cols = ["row_id", "calldate_us", "src", "dst", "disposition", "billsec", "direction", "linkedid"]
        for rec in new_rows.loc[:, cols].head(5 - len(summary.sample)).astype(object).to_dict("records"):
            summary.sample.append({k: (None if pd.isna(v) else v) for k, v in rec.items()})


def newest_call_us(ledger: Ledger, source: str) -> int | None:
    from sqlalchemy import func

    with ledger.engine.connect() as conn:
        value = conn.execute(
            select(func.max(cdr_rows.c.calldate_us)).where(cdr_rows.c.source == source)
        ).scalar()
    return int(value) if value is not None else None
