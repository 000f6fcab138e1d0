"""Linking recordings to CDR rows and calls, and the integrity checks that need the CDR.

Order of evidence for one CDR row (rank, lower is stronger):
  0 `recordingfile` — FreePBX's base name (or a path); looked up by name in the index, the
    `YYYY/MM/DD` folder from the name breaking ties; a name whose extension changed on disk
    (a MIXMON_POST conversion to mp3) is found by its stem;
  1 `userfield` — a name or a path (absolute under the root or `pbx_root`, or relative), whole
    or as one of its `;`-separated parts;
  2 `uniqueid` — the uniqueid a recording's name carries (FreePBX layout, or `name_pattern`).
Every leg of a call (same linkedid) reaches the call's recordings: `recording_fields` falls
back to the call when the row itself has no direct link.

`link` works per call (linkedid) and relinks only the calls a change can reach: calls with a
row loaded since the source's last link, and calls whose rows name (stem or path), carry the
uniqueid of, or are linked to a file the scan added, changed or removed since then
(etl/recordings/changes.py). The first run of a source, a run after its settings changed, and
`full=True` rebuild every link of the source instead. Links, problems and the source's mark
(etl/recordings/marks.py) are written in one transaction: a run that dies leaves all or none,
and the result equals a full rebuild's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from etl.config import RecordingsSettings
from etl.ledger.sql import chunked
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, recording_links, recording_problems, recording_refs
from etl.recordings import changes, marks
from etl.recordings.checks import check_durations, check_orphans
from etl.recordings.evidence import ROW_COLUMNS, Row, link_rows, name_key
from etl.recordings.summaries import LinkSummary

log = logging.getLogger("cdr1c.recordings")

CHUNK = 1000
LINK_KINDS = ("missing", "refused", "duration_mismatch")


def link(
    settings: RecordingsSettings, ledger: Ledger, source: str | None = None, *, full: bool = False
) -> LinkSummary:
    """Link the indexed recordings to the CDR rows of `source` (every source when None) that
    changed since its last link (all of them with `full`, on the first run, or when the
    settings changed), then the `missing`, `refused`, `duration_mismatch` and `orphan` checks."""
    started = time.monotonic()
    summary = LinkSummary()
    fp = marks.fingerprint(settings)
    with ledger.begin() as conn:
        sources = [source] if source else list(conn.execute(select(cdr_rows.c.source).distinct()).scalars())
        files: set[str] = set()
        window: list[int | None] = []
        for src in sources:
            mark = marks.read(conn, src)
            if full or mark is None or mark.fingerprint != fp:
                summary.full = True
                mark = _rebuild(conn, settings, src, summary, fp)
            else:
                window.append(mark.first_us)
                _relink_changed(conn, settings, src, mark, summary, files)
            marks.write(conn, src, mark)
        first = marks.first_call_us(conn)
        marks.set_first(conn, sources, first)
        if summary.full or any(w != first for w in window):
            check_orphans(conn, first)
        else:
            check_orphans(conn, first, files)
        changes.trim(conn)
        _totals(conn, sources, summary)
    summary.seconds = round(time.monotonic() - started, 3)
    log.info(
        "recordings: %d CDR rows relinked%s (%d calls), %d linked "
        "(%d by recordingfile, %d by userfield, %d by uniqueid), "
        "%d calls with recordings; %d missing, %d orphan, %d duration mismatches, %d refused",
        summary.rows,
        " (full rebuild)" if summary.full else "",
        summary.relinked_calls,
        summary.linked,
        summary.by_recordingfile,
        summary.by_userfield,
        summary.by_uniqueid,
        summary.calls,
        summary.missing,
        summary.orphan,
        summary.duration_mismatch,
        summary.refused,
    )
    return summary


# --- a whole source -----------------------------------------------------------------------


def _rebuild(
    conn: Connection, settings: RecordingsSettings, source: str, s: LinkSummary, fp: str
) -> marks.Mark:
    before = _linked_calls(conn, source)
    loaded_us, change_seq = marks.newest_loaded(conn, source), changes.last_seq(conn)
    conn.execute(delete(recording_links).where(recording_links.c.source == source))
    conn.execute(delete(recording_refs).where(recording_refs.c.source == source))
    conn.execute(
        delete(recording_problems).where(
            recording_problems.c.source == source,
            recording_problems.c.origin == "link",
            recording_problems.c.kind.in_(LINK_KINDS),
        )
    )
    last = ""
    while True:  # keyset pages on the primary key: no OFFSET, no server cursor
        page = conn.execute(
            select(*ROW_COLUMNS)
            .where(cdr_rows.c.source == source, cdr_rows.c.row_id > last)
            .order_by(cdr_rows.c.row_id)
            .limit(CHUNK)
        ).all()
        if not page:
            break
        link_rows(conn, settings, source, [Row.of(r) for r in page], s)
        last = page[-1][0]
    check_durations(conn, settings, source)
    after = _linked_calls(conn, source)
    s.relinked_calls += int(
        conn.execute(
            select(func.count(func.distinct(cdr_rows.c.linkedid))).where(cdr_rows.c.source == source)
        ).scalar_one()
    )
    s.got_recording.update((source, c) for c in after - before)
    return marks.Mark(loaded_us, change_seq, fp, len(after), None)


def _linked_calls(conn: Connection, source: str) -> set[str]:
    stmt = select(recording_links.c.linkedid).where(recording_links.c.source == source)
    return set(conn.execute(stmt.distinct()).scalars())


def _links_of(conn: Connection, source: str, calls: list[str]) -> tuple[set[str], set[str]]:
    """The calls among `calls` that have a link, and the files they are linked to (one query)."""
    lk = recording_links.c
    pairs = conn.execute(select(lk.linkedid, lk.path_id).where(lk.source == source, lk.linkedid.in_(calls)))
    linked: set[str] = set()
    files: set[str] = set()
    for linkedid, path_id in pairs:
        linked.add(linkedid)
        files.add(path_id)
    return linked, files


# --- only what changed --------------------------------------------------------------------


def _relink_changed(
    conn: Connection,
    settings: RecordingsSettings,
    source: str,
    mark: marks.Mark,
    s: LinkSummary,
    files: set[str],
) -> None:
    """Relink the calls reached by rows loaded after the mark and files noted after it; add
    the files whose links changed (or that changed) to `files`, for the orphan check."""
    calls: set[str] = set()
    for linkedid, loaded_us in conn.execute(
        select(cdr_rows.c.linkedid, cdr_rows.c.loaded_us).where(
            cdr_rows.c.source == source, cdr_rows.c.loaded_us > mark.loaded_us
        )
    ):
        calls.add(linkedid or "")
        mark.loaded_us = max(mark.loaded_us, int(loaded_us))
    noted = changes.since(conn, mark.change_seq)
    lost = {n.linkedid or "" for n in noted if n.source == source}  # links the scan dropped
    if noted:
        mark.change_seq = max(n.seq for n in noted)
        calls |= _calls_reached(conn, source, noted) | lost
        files.update(n.path_id for n in noted)
    for batch in chunked(sorted(calls)):
        had, old_files = _links_of(conn, source, batch)
        before = had | (lost & set(batch))
        files.update(old_files)
        conn.execute(
            delete(recording_links).where(
                recording_links.c.source == source, recording_links.c.linkedid.in_(batch)
            )
        )
        conn.execute(
            delete(recording_problems).where(
                recording_problems.c.source == source,
                recording_problems.c.linkedid.in_(batch),
                recording_problems.c.origin == "link",
                recording_problems.c.kind.in_(LINK_KINDS),
            )
        )
        # Sorted here: an ORDER BY row_id makes SQLite walk the source's rows in key order.
        rows = sorted(
            conn.execute(
                select(*ROW_COLUMNS).where(cdr_rows.c.source == source, cdr_rows.c.linkedid.in_(batch))
            ),
            key=lambda r: r[0],
        )
        for part in chunked(rows, CHUNK):
            link_rows(conn, settings, source, [Row.of(r) for r in part], s)
        after, new_files = _links_of(conn, source, batch)
        files.update(new_files)
        check_durations(conn, settings, source, batch)
        mark.calls += len(after) - len(before)
        s.got_recording.update((source, c) for c in after - before)
    s.relinked_calls += len(calls)


def _calls_reached(conn: Connection, source: str, noted: Iterable[changes.Change]) -> set[str]:
    """The calls whose rows name a noted file (its path, or its stem as a bare name), carry its
    uniqueid, or are linked to it now: the only calls whose links a file can change."""
    paths: set[str] = set()
    keys: set[str] = set()
    uniqueids: set[str] = set()
    for n in noted:
        paths.add(n.path_id)
        keys.update((n.path_id, name_key(n.stem)))
        if n.uniqueid:
            uniqueids.add(n.uniqueid)
    calls: set[str] = set()
    queries = (
        (recording_refs.c.linkedid, recording_refs.c.source, recording_refs.c.ref_key, keys),
        (cdr_rows.c.linkedid, cdr_rows.c.source, cdr_rows.c.uniqueid, uniqueids),
    )
    for column, src, key, values in queries:  # indexes on (source, key); no DISTINCT, which
        for batch in chunked(sorted(values)):  # SQLite serves from the linkedid index instead
            stmt = select(column).where(src == source, key.in_(batch))
            calls.update(c or "" for c in conn.execute(stmt).scalars())
    lk = recording_links.c
    for batch in chunked(sorted(paths)):  # by path alone: a planner given the source too may
        stmt = select(lk.source, lk.linkedid).where(lk.path_id.in_(batch))  # walk all its links
        calls.update(c or "" for src, c in conn.execute(stmt) if src == source)
    return calls


def _totals(conn: Connection, sources: list[str], s: LinkSummary) -> None:
    """The ledger's counts after the run (the same whichever way it ran)."""
    s.calls = marks.total_calls(conn)
    p = recording_problems.c
    counts = conn.execute(
        select(p.kind, func.count())
        .where(p.origin == "link", p.source.in_(sources), p.kind.in_(LINK_KINDS))
        .group_by(p.kind)
    ).all()
    for kind, n in counts:
        setattr(s, kind, int(n))
    s.orphan = int(
        conn.execute(
            select(func.count()).select_from(recording_problems).where(p.kind == "orphan")
        ).scalar_one()
    )
