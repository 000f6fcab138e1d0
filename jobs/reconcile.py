"""`cdr1c reconcile`: read 1C events and clients, match them with calls, write the report."""

from __future__ import annotations

from datetime import date

import click

from etl.config import Settings
from etl.errors import ConfigError, ExitCode
from etl.ledger.store import Ledger
from etl.locks import job_lock
from etl.onec.reconcile import reconcile
from jobs.common import recorded_run

LABELS = {
    "matched": "matched",
    "mismatch": "event client ≠ number's client",
    "no_event": "answered inbound call without an event",
    "event_without_call": "event whose call id is not in the CDR",
    "unlinked": "other calls without an event",
}


def run(settings: Settings, *, since: date | None = None, until: date | None = None) -> ExitCode:
    if settings.onec is None:
        raise ConfigError("reconciliation needs an [onec] section", "onec")
    with job_lock(settings.lock_dir, "reconcile"):
        ledger = Ledger.open(settings.state.url)
        try:
            with recorded_run(ledger, "reconcile") as record:
                summary = reconcile(settings, ledger, since=since, until=until)
                record.summary.update(
                    since=summary.since, until=summary.until, counts=summary.counts,
                    requeued_rows=summary.requeued_rows,
                )  # fmt: skip
        finally:
            ledger.close()
    click.echo(f"reconciliation {summary.since} … {summary.until}")
    for key, label in LABELS.items():
        click.echo(f"  {summary.counts.get(key, 0):>7}  {label}")
    click.echo(f"  {summary.requeued_rows:>7}  register records re-queued with new event/client references")
    click.echo(f"report: {summary.csv_path}\nsummary: {summary.json_path}")
    return ExitCode.OK
