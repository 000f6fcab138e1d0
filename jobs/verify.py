"""`cdr1c verify`: per-day counts in the source, the ledger and the 1C register; exit 7 on a mismatch."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import click

from etl.config import Settings
from etl.errors import ExitCode
from etl.ledger.store import Ledger
from etl.locks import job_lock
from etl.onec.verify import DayCounts, csv_only_rows, verify
from jobs.common import recorded_run


def render(rows: list[DayCounts]) -> str:
    def cell(v: int | None) -> str:
        return "n/a" if v is None else str(v)

    lines = [f"{'source':<12} {'day':<10} {'source':>8} {'csv only':>8} {'ledger':>8} {'1C':>8}"]
    for r in rows:
        mark = "" if r.ok else "  ← mismatch"
        lines.append(
            f"{r.source:<12} {r.day.isoformat():<10} {cell(r.in_source):>8} {r.from_csv:>8} {r.in_ledger:>8} "
            f"{cell(r.in_register):>8}{mark}"
        )
    return "\n".join(lines)


def run(settings: Settings, *, since: date | None = None, until: date | None = None) -> ExitCode:
    zone = ZoneInfo(settings.onec.timezone if settings.onec else "UTC")
    default = " (the default: the last 7 days)" if since is None and until is None else ""
    until = until or datetime.now(zone).date()
    since = since or until - timedelta(days=6)
    with job_lock(settings.lock_dir, "verify"):
        ledger = Ledger.open(settings.state.url)
        try:
            with recorded_run(ledger, "verify") as record:
                rows = verify(settings, ledger, since, until)
                bad = [r for r in rows if not r.ok]
                lost = csv_only_rows(ledger, since, until, zone)
                record.summary.update(
                    since=since.isoformat(), until=until.isoformat(), days=len(rows),
                    mismatched=[f"{r.source} {r.day.isoformat()}" for r in bad],
                    csv_only=sum(r.from_csv for r in rows),
                )  # fmt: skip
                record.code = ExitCode.MISMATCH if bad else ExitCode.OK
        finally:
            ledger.close()
    click.echo(f"days {since.isoformat()} … {until.isoformat()} in {zone.key}{default}")
    click.echo(render(rows))
    if lost:
        click.echo("\nrows Master.csv has and the CDR database lacks (loaded from the CSV):")
        for row in lost:
            when = datetime.fromtimestamp(row["calldate_us"] / 1e6, zone).strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"  {row['source']} {when} {row['uniqueid']} {row['src']} → {row['dst']} "
                       f"{row['disposition']} {row['clid']!r}")  # fmt: skip
    if bad:
        click.echo(f"{len(bad)} day(s) disagree", err=True)
        return ExitCode.MISMATCH
    return ExitCode.OK
