"""Reading the ledger's problem tables for the reconciliation and data-quality pages: link
statuses and events without a call, quarantined rows, dead letters, recording problems, runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from etl.ledger.tables import (
    call_links,
    calls,
    dead_letters,
    events,
    orphan_events,
    quarantine,
    recording_problems,
    runs,
)


def reconciliation_rows(conn: Connection, limit: int) -> tuple[dict[str, int], list[dict[str, Any]], int]:
    """Counts per status, and the problem rows (mismatch, no_event, event_without_call)."""
    counts = {
        s: int(n)
        for s, n in conn.execute(select(call_links.c.status, func.count()).group_by(call_links.c.status))
    }
    counts["event_without_call"] = int(
        conn.execute(select(func.count()).select_from(orphan_events)).scalar_one()
    )
    stmt = (
        select(
            call_links.c.status,
            call_links.c.source,
            call_links.c.linkedid,
            call_links.c.event_ref,
            call_links.c.client_ref,
            call_links.c.phone_client_ref,
            call_links.c.detail,
            calls.c.start_us,
            calls.c.external_number,
            calls.c.extension,
        )
        .join(calls, (calls.c.source == call_links.c.source) & (calls.c.linkedid == call_links.c.linkedid))
        .where(call_links.c.status.in_(("mismatch", "no_event")))
        .order_by(calls.c.start_us.desc(), call_links.c.linkedid)
        .limit(limit)
    )
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    for r in conn.execute(
        select(orphan_events.c.ref_key, orphan_events.c.call_id, orphan_events.c.date_us, events.c.client_ref)
        .join(events, events.c.ref_key == orphan_events.c.ref_key, isouter=True)
        .order_by(orphan_events.c.date_us.desc())
        .limit(limit)
    ).mappings():
        rows.append(
            {
                "status": "event_without_call",
                "source": "",
                "linkedid": r["call_id"],
                "event_ref": r["ref_key"],
                "client_ref": r["client_ref"],
                "phone_client_ref": None,
                "detail": "",
                "start_us": r["date_us"],
                "external_number": None,
                "extension": None,
            }
        )
    total = counts.get("mismatch", 0) + counts.get("no_event", 0) + counts["event_without_call"]
    return counts, rows, total


def quality_tables(conn: Connection, limit: int) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """Quarantined rows, dead letters, recording problems and recent runs: (rows, total)."""

    def table(stmt: Any, count_of: Any) -> tuple[list[dict[str, Any]], int]:
        total = int(conn.execute(select(func.count()).select_from(count_of)).scalar_one())
        return [dict(r) for r in conn.execute(stmt.limit(limit)).mappings()], total

    return {
        "quarantine": table(
            select(
                quarantine.c.source,
                quarantine.c.row_key,
                quarantine.c.reason,
                quarantine.c.raw,
                quarantine.c.first_seen,
            ).order_by(quarantine.c.first_seen.desc(), quarantine.c.row_key),
            quarantine,
        ),
        "dead_letters": table(
            select(
                dead_letters.c.source,
                dead_letters.c.row_id,
                dead_letters.c.status,
                dead_letters.c.code,
                dead_letters.c.message,
                dead_letters.c.dead_us,
            ).order_by(dead_letters.c.dead_us.desc(), dead_letters.c.row_id),
            dead_letters,
        ),
        "recording_problems": table(
            select(
                recording_problems.c.kind,
                recording_problems.c.source,
                recording_problems.c.subject,
                recording_problems.c.reason,
                recording_problems.c.seen_us,
            ).order_by(
                recording_problems.c.kind,
                recording_problems.c.seen_us.desc(),
                recording_problems.c.problem_id,
            ),
            recording_problems,
        ),
        "runs": table(
            select(runs.c.job, runs.c.started, runs.c.status, runs.c.exit_code, runs.c.summary).order_by(
                runs.c.id.desc()
            ),
            runs,
        ),
    }


def problem_counts(conn: Connection) -> dict[str, int]:
    return {
        k: int(n)
        for k, n in conn.execute(
            select(recording_problems.c.kind, func.count()).group_by(recording_problems.c.kind)
        )
    }
