"""`cdr1c sync`: one incremental run over every source, then the later stages."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

from etl.config import Settings
from etl.errors import Cdr1cError, ExitCode, SourceUnreachable
from jobs.common import RunRecord, graceful_stop, job_run, lag_text, pick_sources, worst

if TYPE_CHECKING:
    from etl.ledger.store import Ledger

log = logging.getLogger("cdr1c.sync")


def run(
    settings: Settings,
    *,
    dry_run: bool = False,
    only: tuple[str, ...] = (),
    stop: threading.Event | None = None,
    quick: bool = True,
) -> ExitCode:
    """`stop`: the scheduler's stop event (see `graceful_stop`); the CLI leaves it None.
    `quick=False` skips the look at the windows (jobs/sync_noop.py): the full path every time."""
    names = pick_sources(settings, only)
    if quick and not dry_run and stop is None:  # from cron: first a look whether anything changed
        from jobs.sync_noop import nothing_new

        code = nothing_new(settings, names)
        if code is not None:
            return code
    # all or nothing: a second sync exits before touching anything
    with job_run("sync", settings, sources=names, record=not dry_run) as run:
        run.summary.update(trigger="timer", sources={}, errors=[])
        run.code = _run(settings, run, names, dry_run, stop)
    return run.code


def _run(
    settings: Settings,
    run: RunRecord,
    names: list[str],
    dry_run: bool,
    external_stop: threading.Event | None,
    reconcile: bool = True,
) -> ExitCode:
    """The work of one sync inside its `job_run`; `reconcile=False` (the event-driven sync of
    `cdr1c live`, jobs/live_sync.py) leaves the reconcile stage to the timer's runs."""
    # the full sync: pandas, SQLAlchemy and the rest load here, not with the command line
    from etl import companion
    from etl.progress import progress
    from etl.sync import sync_source
    from jobs import stages

    ledger, summary, run_id = run.ledger, run.summary, run.id
    codes: list[ExitCode] = []
    oldest: int | None = None
    with graceful_stop(external_stop) as stop:
        for name in names:
            src_settings = settings.sources[name]
            csv_limit = companion.csv_size(src_settings) if src_settings.csv_fallback else 0
            try:
                with progress(f"sync {name}") as advance:
                    result = sync_source(
                        settings.sources[name],
                        ledger,
                        dry_run=dry_run,
                        on_commit=stages.outbox_hook(settings),
                        progress=advance,
                        stop=stop,
                        run_id=run_id,
                    )
            except SourceUnreachable as exc:
                log.error("%s", exc)
                summary["errors"].append(str(exc))
                codes.append(ExitCode.SOURCE_UNREACHABLE)
                continue
            summary["sources"][name] = result.as_dict()
            if src_settings.csv_fallback and not dry_run and not stop.is_set():
                codes += _fill_from_csv(settings, name, ledger, csv_limit, run_id, summary)
            if result.oldest_new_us is not None:
                oldest = result.oldest_new_us if oldest is None else min(oldest, result.oldest_new_us)
            log.info(
                "sync %s%s: read %d, new %d, already had %d, quarantined %d, calls %d, cursor %s, lag %s",
                name, " (dry run)" if dry_run else "", result.read, result.new, result.duplicates,
                result.quarantined, result.calls, result.cursor, lag_text(result.newest_us),
            )  # fmt: skip
            if dry_run and result.sample:
                log.info("sample of new rows: %s", json.dumps(result.sample, ensure_ascii=False, default=str))
            if result.quarantined:
                log.warning("%d rows of %s quarantined: see `cdr1c status`", result.quarantined, name)
                codes.append(ExitCode.NEEDS_ATTENTION)
            if stop.is_set():
                summary["stopped"] = True
                break
        if not stop.is_set() and not dry_run:
            since = stages.since_for(settings, oldest)
            codes += stages.if_free(
                settings,
                "recordings",
                summary,
                lambda: stages.recordings(settings, ledger, summary, names),
            )
            if reconcile:
                codes += stages.if_free(
                    settings,
                    "reconcile",
                    summary,
                    lambda: stages.reconcile(settings, ledger, summary, since=since),
                )
        if not stop.is_set():
            codes += stages.push(settings, ledger, summary, dry_run=dry_run)
    return worst(*codes)


def _fill_from_csv(
    settings: Settings, name: str, ledger: Ledger, limit: int, run_id: int | None, summary: dict[str, Any]
) -> list[ExitCode]:
    """Rows the database lost, from the Master.csv written beside it (etl/companion.py)."""
    from etl import companion
    from jobs import stages

    try:
        filled = companion.fill_from_csv(
            settings.sources[name], ledger, limit=limit, on_commit=stages.outbox_hook(settings), run_id=run_id
        )
    except Cdr1cError as exc:
        log.error("csv_fallback of %s: %s", name, exc)
        summary["sources"][name]["csv_fallback"] = {"error": str(exc)}
        return [exc.exit_code]
    summary["sources"][name]["csv_fallback"] = filled.as_dict()
    if filled.missing_in_database:
        log.warning(
            "%d rows of %s were in Master.csv but not in the database: loaded from the CSV "
            "(`cdr1c verify` lists them)", filled.missing_in_database, name,
        )  # fmt: skip
    return [ExitCode.NEEDS_ATTENTION] if filled.quarantined else []
