"""`cdr1c prune`: delete old run logs and delivered-record hashes (see etl/retention.py)."""

from __future__ import annotations

import logging

import click

from etl.config import Settings
from etl.errors import ExitCode
from etl.retention import prune
from jobs.common import human_seconds, job_run

log = logging.getLogger("cdr1c.prune")


def run(settings: Settings, *, dry_run: bool = False) -> ExitCode:
    with job_run("prune", settings, record=not dry_run, existing=dry_run) as run:
        result = prune(
            run.ledger, keep_runs=settings.keep_runs, keep_delivered=settings.keep_delivered, dry_run=dry_run
        )
        run.summary.update(result.as_dict())
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"prune: {verb} {result.runs} run logs older than "
        f"{human_seconds(int(settings.keep_runs.total_seconds()))} (before {result.runs_before}), "
        f"{result.delivered} delivered-record hashes of calls older than "
        f"{human_seconds(int(settings.keep_delivered.total_seconds()))} (before {result.delivered_before})"
    )
    return ExitCode.OK
