"""`cdr1c report`: render the HTML reports (index, per client, reconciliation, data quality)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from etl.config import Settings
from etl.errors import ExitCode
from etl.reports import build_reports
from etl.store import Ledger


def run(
    settings: Settings,
    *,
    client: str | None = None,
    since: date | None = None,
    until: date | None = None,
    out_dir: Path | None = None,
) -> ExitCode:
    ledger = Ledger.open(settings.state.url)
    try:
        summary = build_reports(settings, ledger, client=client, since=since, until=until, out_dir=out_dir)
    finally:
        ledger.close()
    click.echo(
        f"reports ({summary.mode}): {summary.pages_rendered} page(s) rendered, "
        f"{summary.pages_unchanged} unchanged, "
        f"{summary.calls} calls, {summary.callbacks} missed and not called back, {summary.seconds:.1f}s"
    )
    click.echo(f"open: {Path(summary.out_dir) / 'index.html'}")
    return ExitCode.OK
