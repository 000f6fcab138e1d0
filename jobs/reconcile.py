"""`cdr1c reconcile`: read 1C events and clients, match them with calls, write the report."""

from __future__ import annotations

from datetime import date

import click

from etl.config import Settings
from etl.errors import ConfigError, ExitCode
from etl.onec.reconcile import reconcile
from jobs.common import job_run

LABELS = {
    "matched": "matched",
    "mismatch": "event client ≠ number's client",
    "no_event": "answered inbound call without an event",
    "event_without_call": "event whose call id is not in the CDR",
    "unlinked": "other calls without an event",
}


def run(settings: Settings, *, since: date | None = None, until: date | None = None) -> ExitCode:
    onec = settings.onec
    if onec is None:
        raise ConfigError("reconciliation needs an [onec] section", "onec")
    with job_run("reconcile", settings) as run:
        summary = reconcile(
            onec, run.ledger, out_dir=settings.report_settings().dir, since=since, until=until
        )
        run.summary.update(
            since=summary.since, until=summary.until, counts=summary.counts,
            requeued_rows=summary.requeued_rows,
        )  # fmt: skip
    click.echo(f"reconciliation {summary.since} … {summary.until}")
    for key, label in LABELS.items():
        click.echo(f"  {summary.counts.get(key, 0):>7}  {label}")
    click.echo(f"  {summary.requeued_rows:>7}  register records re-queued with new event/client references")
    click.echo(f"report: {summary.csv_path}\nsummary: {summary.json_path}")
    return ExitCode.OK
