"""`cdr1c status [--json]`: what the ledger knows, for people and for monitoring."""

from __future__ import annotations

import io
import json

import click

from etl.config import Settings
from etl.errors import ExitCode, LedgerMissing
from etl.ledger.store import Ledger
from etl.status import collect_status
from jobs.common import human_seconds


def run(settings: Settings, *, as_json: bool = False) -> ExitCode:
    """Exit 8 (LedgerMissing) with nothing created when no ledger is at `[state] url`; with
    `--json` the same as `{"ledger": {"exists": false, ...}}` on stdout."""
    try:
        ledger = Ledger.open_existing(settings.state.url)
    except LedgerMissing as exc:
        if not as_json:
            raise
        missing = {"exists": False, "url": exc.masked_url, "error": str(exc), "create_with": "cdr1c sync"}
        click.echo(json.dumps({"ledger": missing}, ensure_ascii=False, indent=2))
        return ExitCode.NO_LEDGER
    try:
        state = collect_status(settings, ledger)
    finally:
        ledger.close()
    if as_json:
        click.echo(json.dumps(state, ensure_ascii=False, indent=2, default=str))
        return ExitCode.OK
    click.echo(render_text(state))
    return ExitCode.OK


def render_text(state: dict) -> str:
    from rich.console import Console
    from rich.table import Table

    out = io.StringIO()
    console = Console(file=out, width=110, force_terminal=False)
    t = Table(title="Sources", title_justify="left")
    for col in ("source", "rows", "calls", "quarantined", "cursor", "newest call", "lag"):
        t.add_column(col)
    for name, s in state["sources"].items():
        lag = s["lag_seconds"]
        t.add_row(name, str(s["rows"]), str(s["calls"]), str(s["quarantined"]), str(s["cursor"] or "—"),
                  str(s["newest_call"] or "—"), "—" if lag is None else human_seconds(lag))  # fmt: skip
    console.print(t)
    for name, s in state["sources"].items():
        for reason, n in s["quarantine_reasons"].items():
            console.print(f"  quarantine {name}: {n} × {reason}")
    ob = state["outbox"]
    console.print(f"Outbox: {ob['pending']} pending, {ob['delivered']} delivered, {ob['dead']} dead letters")
    if state.get("recordings"):
        console.print("Recordings: " + ", ".join(f"{k} {v}" for k, v in state["recordings"].items()))
    runs = Table(title="Last runs", title_justify="left")
    for col in ("job", "started", "finished", "status", "exit", "duration", "last success"):
        runs.add_column(col)
    jobs = state.get("jobs", {})
    for job, r in state["last_runs"].items():
        j = jobs.get(job, {})
        took = j.get("last_duration_seconds") if r["finished"] else None
        runs.add_row(
            job, str(r["started"])[:19], str(r["finished"] or "")[:19], r["status"], str(r["exit_code"]),
            "—" if took is None else f"{took:.1f}s", str(j.get("last_success") or "never")[:19],
        )  # fmt: skip
    console.print(runs)
    d = state.get("delivery")
    if d:
        delay = d["delay_seconds"]
        paths = ", ".join(
            f"{path}: {p['runs']} runs, {p['delivered']} delivered, "
            f"last {str(p['last_delivery'] or 'none')[:19]}"
            for path, p in d["paths"].items()
        )
        console.print(f"Delivery, last hour: {paths or 'no sync run'}")
        if delay["p50"] is not None:
            console.print(
                f"  end of call → in 1C: p50 {delay['p50']:.1f}s, p95 {delay['p95']:.1f}s "
                f"({delay['delivered']} rows; {delay['waiting']} waiting)"
            )
    return out.getvalue()
