"""The state of an installation read back from the ledger (for `cdr1c status`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from etl.clock import now_us
from etl.config import Settings
from etl.delivery import delivery_state
from etl.ledger.store import Ledger
from etl.ledger.tables import calls, cdr_rows, cursors, quarantine, runs


def _per_source(ledger: Ledger, table: Any) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {
            s: int(n) for s, n in conn.execute(select(table.c.source, func.count()).group_by(table.c.source))
        }


def collect_status(settings: Settings, ledger: Ledger) -> dict[str, Any]:
    """One JSON-able object: sources, outbox, last runs (design.md §5 `status --json`)."""
    rows, ncalls, quar = (_per_source(ledger, t) for t in (cdr_rows, calls, quarantine))
    with ledger.engine.connect() as conn:
        cur = {
            s: (c, v) for s, c, v in conn.execute(select(cursors.c.source, cursors.c.column, cursors.c.value))
        }
        newest = {
            s: int(v)
            for s, v in conn.execute(
                select(cdr_rows.c.source, func.max(cdr_rows.c.calldate_us)).group_by(cdr_rows.c.source)
            )
            if v is not None
        }
        reasons = {
            (s, r): int(n)
            for s, r, n in conn.execute(
                select(quarantine.c.source, quarantine.c.reason, func.count()).group_by(
                    quarantine.c.source, quarantine.c.reason
                )
            )
        }
    sources: dict[str, Any] = {}
    for name in sorted(set(settings.sources) | set(rows)):
        newest_us = newest.get(name)
        sources[name] = {
            "rows": rows.get(name, 0),
            "calls": ncalls.get(name, 0),
            "quarantined": quar.get(name, 0),
            "cursor": cur[name][1] if name in cur else None,
            "cursor_column": cur[name][0] if name in cur else None,
            "newest_call": _iso(newest_us),
            "lag_seconds": None if newest_us is None else max(0, (now_us() - newest_us) // 1_000_000),
            "quarantine_reasons": {r: n for (s, r), n in sorted(reasons.items()) if s == name},
            "configured": name in settings.sources,
        }
    last = ledger.last_runs(20)
    by_job: dict[str, Any] = {}
    for r in last:
        by_job.setdefault(r["job"], _run_json(r))
    return {
        "sources": sources,
        "outbox": outbox_counts(ledger),
        "recordings": recording_counts(ledger),
        "last_run": _run_json(last[0]) if last else None,
        "last_runs": by_job,
        "last_success": _last_success(ledger),
        "jobs": job_states(ledger),
        "delivery": delivery_state(ledger),
    }


def job_states(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Per job: the last finished run (exit code, duration, when) and the last success.

    What monitoring alerts on, read by `status --json` and written to the metrics file."""
    with ledger.engine.connect() as conn:
        last_ids = select(func.max(runs.c.id)).where(runs.c.finished.is_not(None)).group_by(runs.c.job)
        last = conn.execute(
            select(runs.c.job, runs.c.started, runs.c.finished, runs.c.exit_code, runs.c.status).where(
                runs.c.id.in_(last_ids)
            )
        ).all()
        success: dict[str, Any] = {
            job: when
            for job, when in conn.execute(
                select(runs.c.job, func.max(runs.c.finished))
                .where(runs.c.status.in_(("ok", "attention")))
                .group_by(runs.c.job)
            )
        }
        running: dict[str, int] = {
            job: int(n)
            for job, n in conn.execute(
                select(runs.c.job, func.count()).where(runs.c.finished.is_(None)).group_by(runs.c.job)
            )
        }
    out: dict[str, dict[str, Any]] = {}
    for job, started, finished, code, status in sorted(last):
        started, finished = _aware(started), _aware(finished)
        out[job] = {
            "last_exit_code": code,
            "last_status": status,
            "last_finished": finished.isoformat() if finished else None,
            "last_duration_seconds": round((finished - started).total_seconds(), 3)
            if finished and started
            else None,
            "last_success": _iso_dt(_aware(success.get(job))),
            "unfinished_runs": int(running.get(job, 0)),
        }
    return out


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso_dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def outbox_counts(ledger: Ledger) -> dict[str, int]:
    from etl.onec.outbox import counts

    with ledger.engine.connect() as conn:
        return counts(conn)


def recording_counts(ledger: Ledger) -> dict[str, int]:
    from etl.recordings import status_counts

    return status_counts(ledger)


def _last_success(ledger: Ledger) -> str | None:
    with ledger.engine.connect() as conn:
        value = conn.execute(
            select(func.max(runs.c.finished)).where(runs.c.status.in_(("ok", "attention")))
        ).scalar()
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _iso(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1_000_000, UTC).isoformat()


def _run_json(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "job": r["job"],
        "started": r["started"].isoformat() if r["started"] else None,
        "finished": r["finished"].isoformat() if r["finished"] else None,
        "status": r["status"],
        "exit_code": r["exit_code"],
        "summary": r["summary"],
    }
