"""`cdr1c report`: render the HTML reports (index, per client, reconciliation, data quality)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from etl.config import Settings
from etl.errors import ExitCode
from etl.reports import build_reports
from jobs.common import job_run


def run(
    settings: Settings,
    *,
    client: str | None = None,
    since: date | None = None,
    until: date | None = None,
    out_dir: Path | None = None,
) -> ExitCode:
    with job_run("report", settings) as run:
        summary = build_reports(
            settings.report_settings(), run.ledger, onec=settings.onec, recordings=settings.recordings,
            client=client, since=since, until=until, out_dir=out_dir,
        )  # fmt: skip
        run.summary.update(
            mode=summary.mode, rendered=summary.pages_rendered, unchanged=summary.pages_unchanged,
            calls=summary.calls, callbacks=summary.callbacks,
        )  # fmt: skip
    click.echo(
        f"reports ({summary.mode}): {summary.pages_rendered} page(s) rendered, "
        f"{summary.pages_unchanged} unchanged, "
        f"{summary.calls} calls, {summary.callbacks} missed and not called back, {summary.seconds:.1f}s"
    )
    if summary.entry:  # only a page that exists: the index, or the one client's page
        click.echo(f"open: {Path(summary.out_dir) / summary.entry}")
    return ExitCode.OK
