"""`cdr1c backfill`: load a bounded date range, independent of the live cursor, resumable."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete

from etl.config import Settings
from etl.errors import ConfigError, ExitCode, SourceUnreachable
from etl.ledger.store import Ledger
from etl.ledger.tables import cursors
from etl.locks import job_lock
from etl.progress import progress
from etl.sources import open_source
from etl.sync import sync_source
from jobs import stages
from jobs.common import graceful_stop, log_summary, pick_sources, run_status, worst

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
    started = time.monotonic()
    if since > until:
        raise ConfigError(f"--since {since} is after --until {until}", "--since")
    names = pick_sources(settings, only)
    ledger = Ledger.open(settings.state.url)
    run_id = None if dry_run else ledger.start_run("backfill")
    window = (
        datetime.combine(since, datetime.min.time()),
        datetime.combine(until + timedelta(days=1), datetime.min.time()),
    )
    summary: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat(), "sources": {}}
    codes: list[ExitCode] = []
    with graceful_stop(stop) as stop:
        for name in names:
            src_settings = settings.sources[name]
            key = resume_key(name, since, until)
            try:
                with job_lock(settings.lock_dir, "backfill", name):
                    source = open_source(src_settings)
                    try:
                        total = sum(source.count_by_day(since, until).values())
                        with progress(f"backfill {name} {since}…{until}", total=total) as advance:
                            result = sync_source(src_settings, ledger, source=source, dry_run=dry_run,
                                                 window=window, resume_key=None if dry_run else key,
                                                 on_commit=stages.outbox_hook(settings),
                                                 progress=advance, stop=stop, run_id=run_id)  # fmt: skip
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
    code = worst(*codes)
    summary["duration_seconds"] = round(time.monotonic() - started, 3)
    if run_id is not None:
        ledger.finish_run(run_id, run_status(code), int(code), summary)
        log_summary("backfill", code, summary)
    ledger.close()
    return code
