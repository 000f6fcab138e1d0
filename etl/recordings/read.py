"""The read side of the recordings: derived fields per CDR row (for the 1C register and the
reports), every recording a call reaches, a report's link to a file, and the numbers and problems
`cdr1c status` shows. Reads only what `scan` and `link` stored."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from etl.config import RecordingsSettings
from etl.ledger.sql import chunked
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, recording_links, recording_problems, recordings
from etl.recordings import names
from etl.recordings.kinds import PROBLEM_KINDS


def recording_url(settings: RecordingsSettings, relpath: str) -> str:
    """How a report links to a recording: `url_base` + the relative path, percent-encoded."""
    base = settings.url_base
    if not base:
        return ""
    return base.rstrip("/") + "/" + quote(relpath, safe="/")


def recording_fields(conn: Connection, source: str, row_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Derived fields per CDR row for the 1C register mapping and the reports:
    `recording_path` (relative to the root, '' when none), `recording_duration` (seconds or
    None) and `recording_state`: ok | duration_mismatch | empty | unreadable (the file) |
    missing | refused (the CDR names a file we cannot use) | none (no recording).
    A row without its own link gets its call's (same linkedid) best recording."""
    out: dict[str, dict[str, Any]] = {}
    ids = sorted(set(row_ids))
    for batch in chunked(ids):
        rows = conn.execute(
            select(
                cdr_rows.c.row_id,
                cdr_rows.c.linkedid,
                cdr_rows.c.recordingfile,
                cdr_rows.c.userfield,
            ).where(cdr_rows.c.source == source, cdr_rows.c.row_id.in_(batch))
        ).all()
        if not rows:
            continue
        linkedids = sorted({r.linkedid for r in rows})
        best_by_row: dict[str, tuple[Any, ...]] = {}
        best_by_call: dict[str, tuple[Any, ...]] = {}
        flagged: dict[tuple[str, str], str] = {}
        for lb in chunked(linkedids):  # the calls' links, and their missing/refused problems
            for r in conn.execute(
                select(
                    recording_links.c.row_id,
                    recording_links.c.linkedid,
                    recording_links.c.rank,
                    recordings.c.path_id,
                    recordings.c.relpath,
                    recordings.c.duration,
                    recordings.c.state,
                )
                .join(recordings, recordings.c.path_id == recording_links.c.path_id)
                .where(recording_links.c.source == source, recording_links.c.linkedid.in_(lb))
            ):
                key = (r.rank, _state_order(r.state), -(r.duration or 0.0), r.relpath)
                cand = (key, r.path_id, r.relpath, r.duration, r.state)
                if r.row_id not in best_by_row or cand[0] < best_by_row[r.row_id][0]:
                    best_by_row[r.row_id] = cand
                if r.linkedid not in best_by_call or cand[0] < best_by_call[r.linkedid][0]:
                    best_by_call[r.linkedid] = cand
            for p in conn.execute(
                select(
                    recording_problems.c.linkedid,
                    recording_problems.c.subject,
                    recording_problems.c.kind,
                ).where(
                    recording_problems.c.source == source,
                    recording_problems.c.kind.in_(("missing", "refused")),
                    recording_problems.c.linkedid.in_(lb),
                )
            ):
                flagged[(p.linkedid, p.subject)] = p.kind
        mismatched: set[str] = set()
        pids = sorted({c[1] for c in (*best_by_row.values(), *best_by_call.values())})
        for pb in chunked(pids):
            mismatched.update(
                conn.execute(
                    select(recording_problems.c.path_id).where(
                        recording_problems.c.kind == "duration_mismatch",
                        recording_problems.c.source == source,
                        recording_problems.c.path_id.in_(pb),
                    )
                ).scalars()
            )
        for row in rows:
            found = best_by_row.get(row.row_id) or best_by_call.get(row.linkedid)
            if found is not None:
                _, pid, relpath, duration, state = found
                if state == "ok" and pid in mismatched:
                    state = "duration_mismatch"
                out[row.row_id] = {
                    "recording_path": relpath,
                    "recording_duration": duration,
                    "recording_state": state,
                }
            else:
                out[row.row_id] = {
                    "recording_path": "",
                    "recording_duration": None,
                    "recording_state": _unlinked_state(row, flagged),
                }
    return out


def _state_order(state: str) -> int:
    return {"ok": 0, "unreadable": 1, "empty": 2}.get(state, 3)


def _unlinked_state(r: Any, flagged: dict[tuple[str, str], str]) -> str:
    """`refused` or `missing` when `link` stored that problem for one of the row's values."""
    kinds = set()
    for fname in ("recordingfile", "userfield"):
        for part in names.field_values(getattr(r, fname) or ""):
            kind = flagged.get((r.linkedid, part))
            if kind:
                kinds.add(kind)
    for kind in ("refused", "missing"):
        if kind in kinds:
            return kind
    return "none"


def call_recordings(
    conn: Connection, source: str, linkedids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every recording each call reaches, best evidence first: for per-client reports."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for lb in chunked(sorted(set(linkedids))):
        stmt = (
            select(
                recording_links.c.linkedid,
                recordings.c.relpath,
                recordings.c.duration,
                recordings.c.state,
                func.min(recording_links.c.rank).label("rank"),
            )
            .join(recordings, recordings.c.path_id == recording_links.c.path_id)
            .where(recording_links.c.source == source, recording_links.c.linkedid.in_(lb))
            .group_by(
                recording_links.c.linkedid,
                recordings.c.path_id,
                recordings.c.relpath,
                recordings.c.duration,
                recordings.c.state,
            )
        )
        for r in conn.execute(stmt):
            out[r.linkedid].append(
                {"path": r.relpath, "duration": r.duration, "state": r.state, "rank": int(r.rank)}
            )
    for lst in out.values():
        lst.sort(key=lambda d: (d["rank"], d["path"]))
    return dict(out)


def status_counts(ledger: Ledger) -> dict[str, int]:
    """For `cdr1c status`: files indexed, files linked, and the number of each problem kind."""
    with ledger.engine.connect() as conn:
        out = {
            "files": int(conn.execute(select(func.count()).select_from(recordings)).scalar_one()),
            "linked": int(
                conn.execute(
                    select(func.count()).select_from(select(recording_links.c.path_id).distinct().subquery())
                ).scalar_one()
            ),
        }
        out.update(dict.fromkeys(PROBLEM_KINDS, 0))
        for kind, n in conn.execute(
            select(recording_problems.c.kind, func.count()).group_by(recording_problems.c.kind)
        ):
            out[kind] = int(n)
    return out


def list_problems(ledger: Ledger, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The stored problems, newest first, each with its reason (for `status` and reports)."""
    stmt = select(recording_problems).order_by(
        recording_problems.c.seen_us.desc(), recording_problems.c.problem_id
    )
    if kind:
        stmt = stmt.where(recording_problems.c.kind == kind)
    with ledger.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt.limit(limit)).mappings()]
