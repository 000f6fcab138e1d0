"""The stages after the CDR load, shared by `sync` and `backfill`.

Each stage runs only when its section is configured, records what it did in the run summary
and returns the exit codes that matter; a failing stage never hides the others' results.
`if_free` runs a stage under the lock of the standalone job of the same name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from etl.config import Settings
from etl.errors import Cdr1cError, ExitCode, LockHeld, OnecMappingError, OnecUnreachable
from etl.ledger.store import Ledger
from etl.locks import job_lock
from etl.progress import progress

log = logging.getLogger("cdr1c")
OnCommit = Callable[[Connection, str, list[str]], None]


def outbox_hook(settings: Settings) -> OnCommit | None:
    """Enqueue new rows for 1C in the same transaction that stores them."""
    if settings.onec is None:
        return None
    from etl.onec.outbox import enqueue

    return enqueue


def recording_derive(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Add recording_path / recording_duration / recording_state to rows bound for 1C."""
    from etl.recordings import recording_fields

    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
    for source, group in by_source.items():
        fields = recording_fields(conn, source, [r["row_id"] for r in group])
        for r in group:
            r.update(fields.get(r["row_id"], {}))


def since_for(settings: Settings, oldest_new_us: int | None) -> date | None:
    """Reconcile at least the days of the calls this run added (default: the last week)."""
    if settings.onec is None or oldest_new_us is None:
        return None
    zone = ZoneInfo(settings.onec.timezone)
    oldest = datetime.fromtimestamp(oldest_new_us / 1_000_000, zone).date()
    week_ago = datetime.now(zone).date() - timedelta(days=7)
    return min(oldest, week_ago)


def failed(summary: dict[str, Any], stage: str, exc: Cdr1cError) -> None:
    """A stage's error, logged and named in the summary: under the stage and in `errors`."""
    log.error("%s: %s", stage, exc)
    summary[stage] = {"error": str(exc)}
    summary.setdefault("errors", []).append(f"{stage}: {exc}")


def if_free(
    settings: Settings, job: str, summary: dict[str, Any], stage: Callable[[], list[ExitCode]]
) -> list[ExitCode]:
    """`stage()` under the lock of `cdr1c <job>` (recordings, reconcile), so the stage never
    runs beside that job started by cron or the scheduler. When the job is running, the stage
    is left to it this time: logged and noted in the summary, not an error (the next sync's
    stages cover this run's calls: reconcile looks back a week, recordings scan is incremental)."""
    with ExitStack() as held:
        try:
            held.enter_context(job_lock(settings.lock_dir, job))
        except LockHeld as exc:
            log.info("%s: left to the run that holds its lock: %s", job, exc)
            summary[job] = {"skipped": str(exc)}
            return []
        return stage()


def recordings(
    settings: Settings, ledger: Ledger, summary: dict[str, Any], sources: list[str], *, full: bool = False
) -> list[ExitCode]:
    """Scan the folder, then link each source: the calls that changed since its last link, or
    all of them with `full` (etl/recordings/linker.py); calls that got a recording are queued
    for 1C again."""
    if settings.recordings is None:
        return []
    from etl.recordings import link, scan

    try:
        scanned = scan(settings.recordings, ledger)
        summary["recordings"] = {"scan": scanned.as_dict(), "link": {}}
        for name in sources:
            linked = link(settings.recordings, ledger, name, full=full)
            summary["recordings"]["link"][name] = linked.as_dict()
            if settings.onec is not None:
                again = _requeue_calls(ledger, name, {c for _, c in linked.got_recording})
                summary["recordings"]["link"][name]["requeued"] = again
            log.info(
                "recordings %s: %d linked, %d missing, %d orphan, %d refused",
                name, linked.linked, linked.missing, linked.orphan, linked.refused,
            )  # fmt: skip
    except Cdr1cError as exc:
        failed(summary, "recordings", exc)
        return [exc.exit_code]
    return []


def _requeue_calls(ledger: Ledger, source: str, linkedids: set[str]) -> int:
    """Queue again every row of the calls that have just got a recording: a record 1C already
    holds gets its path and duration in a later delivery (the push sends only changed records)."""
    if not linkedids:
        return 0
    from etl.ledger.sql import select_in
    from etl.ledger.tables import cdr_rows
    from etl.onec.outbox import enqueue

    with ledger.begin() as conn:
        rows = [
            r for (r,) in select_in(conn, cdr_rows, ("row_id",), "linkedid", linkedids, {"source": source})
        ]
        enqueue(conn, source, rows)
    return len(rows)


def reconcile(
    settings: Settings,
    ledger: Ledger,
    summary: dict[str, Any],
    since: date | None = None,
    until: date | None = None,
) -> list[ExitCode]:
    if settings.onec is None:  # no [onec]: the stage is off
        return []
    from etl.onec.reconcile import reconcile as run_reconcile

    try:
        result = run_reconcile(
            settings.onec, ledger, out_dir=settings.report_settings().dir, since=since, until=until
        )
    except OnecMappingError as exc:  # 1C lacks an entity set or field: the push still runs
        failed(summary, "reconcile", exc)
        return [ExitCode.NEEDS_ATTENTION]
    except Cdr1cError as exc:
        failed(summary, "reconcile", exc)
        return [ExitCode.ONEC_UNREACHABLE if isinstance(exc, OnecUnreachable) else exc.exit_code]
    summary["reconcile"] = {"since": result.since, "until": result.until, "counts": result.counts}
    log.info("reconcile %s…%s: %s", result.since, result.until, result.counts)
    return []


def push(
    settings: Settings, ledger: Ledger, summary: dict[str, Any], *, dry_run: bool = False
) -> list[ExitCode]:
    if settings.onec is None:  # no [onec]: the stage is off
        return []
    from etl.onec.push import push as run_push

    derive = recording_derive if settings.recordings is not None else None
    try:
        with progress("push to 1C", unit="records") as advance:
            result = run_push(settings.onec, ledger, dry_run=dry_run, progress=advance, derive=derive)
    except Cdr1cError as exc:
        failed(summary, "push", exc)
        return [exc.exit_code]
    summary["push"] = result.as_dict()
    log.info(
        "push%s: %d delivered, %d patched, %d unchanged, %d dead letters, %d to retry",
        " (dry run)" if dry_run else "", result.delivered, result.patched, result.unchanged,
        result.dead, result.retried,
    )  # fmt: skip
    codes = []
    if result.unreachable:
        log.error("1C is unreachable: %s (the records stay queued)", result.unreachable)
        summary.setdefault("errors", []).append(f"push: 1C is unreachable: {result.unreachable}")
        codes.append(ExitCode.ONEC_UNREACHABLE)
    if result.dead:
        log.warning("%d records rejected by 1C: see `cdr1c status`", result.dead)
        codes.append(ExitCode.NEEDS_ATTENTION)
    return codes
