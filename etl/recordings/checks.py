"""The integrity checks that need the CDR: `duration_mismatch` (per call and recording) and
`orphan` (per file), for everything or for the calls and files a run touched."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, and_, delete, exists, false, func, select
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import RecordingsSettings
from etl.ledger.sql import chunked, upsert
from etl.ledger.tables import cdr_rows, recording_links, recording_problems, recordings
from etl.recordings.problems import problem

CHUNK = 1000
DAY_US = 86_400 * 1_000_000


def check_durations(
    conn: Connection, settings: RecordingsSettings, source: str, linkedids: list[str] | None = None
) -> None:
    """A readable recording whose length is within tolerance of no leg's billsec, among the
    source's calls (`linkedids`, or all); the caller removed their old results."""
    if linkedids is None:
        _check_durations(conn, settings, source, None)
        return
    for batch in chunked(linkedids):
        _check_durations(conn, settings, source, batch)


def _check_durations(
    conn: Connection, settings: RecordingsSettings, source: str, calls: list[str] | None
) -> None:
    pairs = select(recording_links.c.path_id, recording_links.c.linkedid).where(
        recording_links.c.source == source
    )
    if calls is not None:
        pairs = pairs.where(recording_links.c.linkedid.in_(calls))
    sub = pairs.distinct().subquery()
    stmt = (
        select(
            sub.c.path_id,
            sub.c.linkedid,
            func.min(recordings.c.duration).label("duration"),
            func.min(func.abs(cdr_rows.c.billsec - recordings.c.duration)).label("best"),
        )
        .select_from(sub)
        .join(recordings, recordings.c.path_id == sub.c.path_id)
        .join(cdr_rows, and_(cdr_rows.c.source == source, cdr_rows.c.linkedid == sub.c.linkedid))
        .where(recordings.c.state == "ok", recordings.c.duration.is_not(None))
        .group_by(sub.c.path_id, sub.c.linkedid)
    )
    tol = settings.duration_tolerance
    bad = [r for r in conn.execute(stmt) if r.best is not None and float(r.best) > tol + 1e-6]
    if not bad:
        return
    rel: dict[str, str] = {}
    for batch in chunked(sorted({r.path_id for r in bad})):
        stmt_rel = select(recordings.c.path_id, recordings.c.relpath).where(recordings.c.path_id.in_(batch))
        rel.update((r[0], r[1]) for r in conn.execute(stmt_rel))
    seen = now_us()
    rows = [
        problem(
            "duration_mismatch",
            "link",
            rel[r.path_id],
            f"recording lasts {float(r.duration):.2f} s; no leg of call {r.linkedid} "
            f"has a billsec within {tol:g} s of it (nearest differs by {float(r.best):.2f} s)",
            source=source,
            linkedid=r.linkedid,
            path_id=r.path_id,
            seen_us=seen,
        )
        for r in bad
    ]
    upsert(conn, recording_problems, rows, update=("reason", "seen_us"))


def check_orphans(conn: Connection, first: int | None, files: Iterable[str] | None = None) -> None:
    """Files no CDR row reaches, among those recorded since the ledger's first call (`first`;
    a file older than the loaded history is not an orphan, only not covered yet): every file,
    or only `files` (those whose links or index row a run changed)."""
    if files is None:
        conn.execute(delete(recording_problems).where(recording_problems.c.kind == "orphan"))
        last = ""
        while True:  # keyset pages: a million orphans never sit in memory at once
            page = conn.execute(
                _orphan_query(first)
                .where(recordings.c.path_id > last)
                .order_by(recordings.c.path_id)
                .limit(CHUNK)
            ).all()
            if not page:
                return
            _write_orphans(conn, page)
            last = page[-1].path_id
    for batch in chunked(sorted(set(files))):
        conn.execute(
            delete(recording_problems).where(
                recording_problems.c.kind == "orphan", recording_problems.c.path_id.in_(batch)
            )
        )
        _write_orphans(conn, conn.execute(_orphan_query(first).where(recordings.c.path_id.in_(batch))).all())


def _orphan_query(first: int | None) -> Select[Any]:
    stmt = select(recordings.c.path_id, recordings.c.relpath, recordings.c.dir_hash).where(
        ~exists().where(recording_links.c.path_id == recordings.c.path_id)
    )
    if first is None:  # no CDR yet: nothing is an orphan
        return stmt.where(false())
    return stmt.where(recordings.c.recorded_us >= int(first) - DAY_US)


def _write_orphans(conn: Connection, page: Sequence[Any]) -> None:
    if not page:
        return
    seen = now_us()
    rows = [
        problem(
            "orphan",
            "link",
            r.relpath,
            "no CDR row names this file or carries its uniqueid",
            path_id=r.path_id,
            dir_hash=r.dir_hash,
            seen_us=seen,
        )
        for r in page
    ]
    upsert(conn, recording_problems, rows, update=("reason", "seen_us"))
