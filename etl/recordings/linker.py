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

`link` rebuilds one source's links in one transaction, so it can run any number of times.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import RecordingsSettings
from etl.ledger.sql import chunked, insert_ignore, upsert
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, recording_links, recording_problems, recordings
from etl.recordings import names
from etl.recordings.problems import problem, unique_problems
from etl.recordings.summaries import LinkSummary

log = logging.getLogger("cdr1c.recordings")

CHUNK = 1000
DAY_US = 86_400 * 1_000_000
RANKS = {"recordingfile": 0, "userfield": 1, "uniqueid": 2}


def link(settings: RecordingsSettings, ledger: Ledger, source: str | None = None) -> LinkSummary:
    """Link the indexed recordings to the CDR rows of `source` (every source when None), then
    recompute `missing`, `refused` (names from CDR fields), `duration_mismatch` and `orphan`."""
    started = time.monotonic()
    summary = LinkSummary()
    with ledger.begin() as conn:
        sources = [source] if source else list(conn.execute(select(cdr_rows.c.source).distinct()).scalars())
        for src in sources:
            _link_source(conn, settings, src, summary)
            _check_durations(conn, settings, src, summary)
        summary.calls = int(
            conn.execute(
                select(func.count()).select_from(
                    select(recording_links.c.source, recording_links.c.linkedid).distinct().subquery()
                )
            ).scalar_one()
        )
        summary.orphan = _orphans(conn)
    summary.seconds = round(time.monotonic() - started, 3)
    log.info(
        "recordings: %d CDR rows, %d linked "
        "(%d by recordingfile, %d by userfield, %d by uniqueid), "
        "%d calls with recordings; %d missing, %d orphan, %d duration mismatches, %d refused",
        summary.rows,
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


# --- per source ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    row_id: str
    uniqueid: str
    linkedid: str
    recordingfile: str
    userfield: str


def _rows(conn: Connection, source: str) -> Iterable[list[_Row]]:
    """The source's rows in chunks, by keyset on the primary key (no OFFSET, no server cursor)."""
    last = ""
    cols = (
        cdr_rows.c.row_id,
        cdr_rows.c.uniqueid,
        cdr_rows.c.linkedid,
        cdr_rows.c.recordingfile,
        cdr_rows.c.userfield,
    )
    while True:
        chunk = conn.execute(
            select(*cols)
            .where(cdr_rows.c.source == source, cdr_rows.c.row_id > last)
            .order_by(cdr_rows.c.row_id)
            .limit(CHUNK)
        ).all()
        if not chunk:
            return
        yield [_Row(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "") for r in chunk]
        last = chunk[-1][0]


def _link_source(conn: Connection, settings: RecordingsSettings, source: str, s: LinkSummary) -> None:
    conn.execute(delete(recording_links).where(recording_links.c.source == source))
    conn.execute(
        delete(recording_problems).where(
            recording_problems.c.source == source,
            recording_problems.c.origin == "link",
            recording_problems.c.kind.in_(("missing", "refused", "duration_mismatch")),
        )
    )
    root = str(settings.root)
    for chunk in _rows(conn, source):
        s.rows += len(chunk)
        refs: dict[str, list[tuple[str, int, names.Reference, str]]] = defaultdict(list)
        problems: list[dict[str, Any]] = []
        for row in chunk:
            for fname in ("recordingfile", "userfield"):
                value = getattr(row, fname)
                for i, part in enumerate(names.field_values(value)):
                    ref = names.cdr_reference(part, root=root, pbx_root=settings.pbx_root)
                    if isinstance(ref, names.Refusal):
                        problems.append(
                            problem(
                                "refused",
                                "link",
                                part,
                                f"{fname}: {ref.reason}; not followed",
                                source=source,
                                row_id=row.row_id,
                                linkedid=row.linkedid,
                            )
                        )
                    elif ref is not None:
                        refs[row.row_id].append((fname, i, ref, value))
        index = _Index(conn, refs, [r.uniqueid for r in chunk if r.uniqueid])
        links: list[dict[str, Any]] = []
        for row in chunk:
            found: dict[str, str] = {}  # path_id → method (strongest first)
            promised: list[tuple[str, str]] = []
            for fname, i, ref, value in refs.get(row.row_id, []):
                pid = index.resolve(ref)
                if pid is not None:
                    found.setdefault(pid, fname)
                elif i == 0 and (fname == "recordingfile" or names.is_audio_name(ref.value)):
                    promised.append((fname, value))
            if not found:  # the name in the CDR wins; the uniqueid is the fallback
                for pid in index.by_uniqueid.get(row.uniqueid, ()):
                    found.setdefault(pid, "uniqueid")
            for pid, method in found.items():
                links.append(
                    {
                        "source": source,
                        "row_id": row.row_id,
                        "path_id": pid,
                        "linkedid": row.linkedid,
                        "method": method,
                        "rank": RANKS[method],
                    }
                )
            if found:
                s.linked += 1
                best = min(found.values(), key=RANKS.__getitem__)
                setattr(s, f"by_{best}", getattr(s, f"by_{best}") + 1)
            else:
                for fname, value in promised:
                    where = _expected_where(value)
                    problems.append(
                        problem(
                            "missing",
                            "link",
                            value,
                            f"{fname} {value!r} names a recording not found under the root{where}",
                            source=source,
                            row_id=row.row_id,
                            linkedid=row.linkedid,
                        )
                    )
        insert_ignore(conn, recording_links, links)
        if problems:
            upsert(
                conn, recording_problems, unique_problems(problems), update=("reason", "seen_us", "row_id")
            )
    for kind in ("missing", "refused"):
        n = conn.execute(
            select(func.count())
            .select_from(recording_problems)
            .where(
                recording_problems.c.source == source,
                recording_problems.c.origin == "link",
                recording_problems.c.kind == kind,
            )
        ).scalar_one()
        setattr(s, kind, getattr(s, kind) + int(n))


def _expected_where(value: str) -> str:
    name = value.strip().rsplit("/", 1)[-1]
    folder = names.date_folder(name)
    return f" (FreePBX would look in {folder}/)" if folder and "/" not in value else ""


class _Index:
    """The recordings a chunk of rows may name, fetched with a few IN queries."""

    def __init__(
        self,
        conn: Connection,
        refs: dict[str, list[tuple[str, int, names.Reference, str]]],
        uniqueids: list[str],
    ) -> None:
        wanted_names = {ref.value for lst in refs.values() for _, _, ref, _ in lst if not ref.is_path}
        wanted_paths = {
            names.path_id(ref.value.encode("utf-8", "surrogateescape"))
            for lst in refs.values()
            for _, _, ref, _ in lst
            if ref.is_path
        }
        self.by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.by_stem: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.paths: set[str] = set()
        self.by_uniqueid: dict[str, list[str]] = defaultdict(list)
        cols = (recordings.c.path_id, recordings.c.relpath, recordings.c.name, recordings.c.stem)
        for batch in chunked(sorted(wanted_names)):
            for r in conn.execute(select(*cols).where(recordings.c.name.in_(batch))):
                self.by_name[r.name].append((r.path_id, r.relpath))
        stems = sorted({names.split_name(n)[0] for n in wanted_names if n not in self.by_name})
        for batch in chunked(stems):
            for r in conn.execute(select(*cols).where(recordings.c.stem.in_(batch))):
                self.by_stem[r.stem].append((r.path_id, r.relpath))
        for batch in chunked(sorted(wanted_paths)):
            self.paths.update(
                conn.execute(select(recordings.c.path_id).where(recordings.c.path_id.in_(batch))).scalars()
            )
        for batch in chunked(sorted(set(uniqueids))):
            for u in conn.execute(
                select(recordings.c.path_id, recordings.c.uniqueid).where(recordings.c.uniqueid.in_(batch))
            ):
                self.by_uniqueid[u.uniqueid].append(u.path_id)

    def resolve(self, ref: names.Reference) -> str | None:
        if ref.is_path:
            pid = names.path_id(ref.value.encode("utf-8", "surrogateescape"))
            return pid if pid in self.paths else None
        # Exact name first (a case-insensitive collation may return x.wav for x.WAV), then
        # the same stem with another audio extension.
        hits = [h for h in self.by_name.get(ref.value, []) if h[1].rsplit("/", 1)[-1] == ref.value]
        if not hits:
            stem = names.split_name(ref.value)[0]
            hits = [
                h
                for h in self.by_stem.get(stem, [])
                if names.split_name(h[1].rsplit("/", 1)[-1])[0] == stem and names.is_audio_name(h[1])
            ]
        if not hits:
            return None
        folder = names.date_folder(ref.value)
        hits.sort(key=lambda h: (not (folder and h[1].startswith(folder + "/")), h[1].count("/"), h[1]))
        return hits[0][0]


def _check_durations(conn: Connection, settings: RecordingsSettings, source: str, s: LinkSummary) -> None:
    """A readable recording whose length is within tolerance of no leg's billsec."""
    pairs = (
        select(recording_links.c.path_id, recording_links.c.linkedid)
        .where(recording_links.c.source == source)
        .distinct()
        .subquery()
    )
    stmt = (
        select(
            pairs.c.path_id,
            pairs.c.linkedid,
            func.min(recordings.c.duration).label("duration"),
            func.min(func.abs(cdr_rows.c.billsec - recordings.c.duration)).label("best"),
        )
        .select_from(pairs)
        .join(recordings, recordings.c.path_id == pairs.c.path_id)
        .join(cdr_rows, and_(cdr_rows.c.source == source, cdr_rows.c.linkedid == pairs.c.linkedid))
        .where(recordings.c.state == "ok", recordings.c.duration.is_not(None))
        .group_by(pairs.c.path_id, pairs.c.linkedid)
    )
    tol = settings.duration_tolerance
    bad = [r for r in conn.execute(stmt) if r.best is not None and float(r.best) > tol + 1e-6]
    if not bad:
        return
    rel = {}
    for batch in chunked(sorted({r.path_id for r in bad})):
        rel.update(
            dict(
                conn.execute(
                    select(recordings.c.path_id, recordings.c.relpath).where(recordings.c.path_id.in_(batch))
                ).all()
            )
        )
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
    s.duration_mismatch += len(rows)


def _orphans(conn: Connection) -> int:
    """Files no CDR row reaches, among those recorded since the ledger's first CDR row (a
    file older than the loaded history is not an orphan, only not covered yet)."""
    conn.execute(delete(recording_problems).where(recording_problems.c.kind == "orphan"))
    first = conn.execute(select(func.min(cdr_rows.c.calldate_us))).scalar_one()
    if first is None:
        return 0
    seen = now_us()
    total = 0
    last = ""
    while True:  # keyset pages: a million orphans never sit in memory at once
        page = conn.execute(
            select(recordings.c.path_id, recordings.c.relpath, recordings.c.dir_hash)
            .where(
                recordings.c.path_id > last,
                recordings.c.recorded_us >= int(first) - DAY_US,
                ~exists().where(recording_links.c.path_id == recordings.c.path_id),
            )
            .order_by(recordings.c.path_id)
            .limit(CHUNK)
        ).all()
        if not page:
            return total
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
        total += len(rows)
        last = page[-1].path_id


# --- read side: derived fields, calls, status ---------------------------------------------
