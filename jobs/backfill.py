"""`cdr1c backfill`: load a bounded date range, independent of the live cursor, resumable."""

from __future__ import annotations

import json
import logging
import threading
from datetime import date, datetime, timedelta

from sqlalchemy import delete

from etl.config import Settings
from etl.errors import ConfigError, ExitCode, SourceUnreachable
from etl.ledger.tables import cursors
from etl.progress import progress
from etl.sources import open_source
from etl.sync import sync_source
from jobs import stages
from jobs.common import RunRecord, graceful_stop, job_run, pick_sources, worst

log = logging.getLogger("cdr1c.backfill")


def resume_key(source: str, since: date, until: date) -> str:
    return f"backfill:{source}:{since:%Y%m%d}-{until:%Y%m%d}"


def run(
    settings: Settings,
    *,
    since: date,
    until: date,
    dry_run: bool = False,
    push: bool = True,
    only: tuple[str, ...] | list[str] = (),
    stop: threading.Event | None = None,
) -> ExitCode:
    """`stop`: the scheduler's stop event (see `graceful_stop`); the CLI leaves it None."""
    if since > until:
        raise ConfigError(f"--since {since} is after --until {until}", "--since")
    names = pick_sources(settings, only)
    with job_run("backfill", settings, sources=names, record=not dry_run) as run:
        run.summary.update(since=since.isoformat(), until=until.isoformat(), sources={})
        run.code = _backfill(settings, run, names, since, until, dry_run, push, stop)
    return run.code


def _backfill(
    settings: Settings,
    run: RunRecord,
    names: list[str],
    since: date,
    until: date,
    dry_run: bool,
    push: bool,
    external_stop: threading.Event | None,
) -> ExitCode:
    ledger, summary = run.ledger, run.summary
    window = (
        datetime.combine(since, datetime.min.time()),
        datetime.combine(until + timedelta(days=1), datetime.min.time()),
    )
    codes: list[ExitCode] = []
    with graceful_stop(external_stop) as stop:
        for name in names:
            src_settings = settings.sources[name]
            key = resume_key(name, since, until)
            try:
                source = open_source(src_settings)
                try:
                    total = sum(source.count_by_day(since, until).values())
                    with progress(f"backfill {name} {since}…{until}", total=total) as advance:
                        result = sync_source(src_settings, ledger, source=source, dry_run=dry_run,
                                             window=window, resume_key=None if dry_run else key,
                                             on_commit=stages.outbox_hook(settings),
                                             progress=advance, stop=stop, run_id=run.id)  # fmt: skip
                finally:
                    source.close()
            except SourceUnreachable as exc:
                log.error("%s", exc)
                codes.append(ExitCode.SOURCE_UNREACHABLE)
                continue
            summary["sources"][name] = result.as_dict()
            log.info("backfill %s%s: read %d, new %d, already had %d, quarantined %d",
                     name, " (dry run)" if dry_run else "", result.read, result.new,
                     result.duplicates, result.quarantined)  # fmt: skip
            if dry_run and result.sample:
                log.info("sample of new rows: %s", json.dumps(result.sample, ensure_ascii=False, default=str))
            if result.quarantined:
                codes.append(ExitCode.NEEDS_ATTENTION)
            if stop.is_set():
                summary["stopped"] = True
                log.warning("backfill interrupted: run the same command again to continue")
                break
            if not dry_run:  # done: the next backfill of this range checks all of it again
                with ledger.begin() as conn:
                    conn.execute(delete(cursors).where(cursors.c.source == key))
        if not stop.is_set() and not dry_run:
            codes += stages.if_free(
                settings, "recordings", summary, lambda: stages.recordings(settings, ledger, summary, names)
            )
            if push:  # --no-push: nothing is asked of 1C at all
                codes += stages.if_free(
                    settings,
                    "reconcile",
                    summary,
                    lambda: stages.reconcile(settings, ledger, summary, since, until),
                )
        if push and not stop.is_set():
            codes += stages.push(settings, ledger, summary, dry_run=dry_run)
    return worst(*codes)
