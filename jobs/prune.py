"""`cdr1c prune`: delete old run logs and delivered-record hashes (see etl/retention.py)."""

from __future__ import annotations

import logging

import click

from etl.config import Settings
from etl.errors import ExitCode
from etl.ledger.store import Ledger
from etl.locks import job_lock
from etl.retention import PruneResult, prune
from jobs.common import human_seconds, recorded_run

log = logging.getLogger("cdr1c.prune")


def run(settings: Settings, *, dry_run: bool = False) -> ExitCode:
    with job_lock(settings.lock_dir, "prune"):
        ledger = Ledger.open(settings.state.url)
        try:
            if dry_run:
                result = _prune(settings, ledger, dry_run=True)
            else:
                with recorded_run(ledger, "prune") as record:
                    result = _prune(settings, ledger, dry_run=False)
                    record.summary.update(result.as_dict())
        finally:
            ledger.close()
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"prune: {verb} {result.runs} run logs older than "
        f"{human_seconds(int(settings.keep_runs.total_seconds()))} (before {result.runs_before}), "
        f"{result.delivered} delivered-record hashes of calls older than "
        f"{human_seconds(int(settings.keep_delivered.total_seconds()))} (before {result.delivered_before})"
    )
    return ExitCode.OK


def _prune(settings: Settings, ledger: Ledger, *, dry_run: bool) -> PruneResult:
    return prune(
        ledger, keep_runs=settings.keep_runs, keep_delivered=settings.keep_delivered, dry_run=dry_run
    )
