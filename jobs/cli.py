"""The `cdr1c` command: one click group, one thin function per verb.

Each verb loads the settings, calls the job module (which composes `etl/` parts) and turns the
outcome into an exit code. Errors that need a human are `Cdr1cError`s: their message is printed
(with secrets masked) and their exit code returned; anything else is a bug and exits 1.

Layout: what the verbs share (context, global options, `run_job`, date options) is in
jobs/cli_base.py; a verb here parses its options and imports its job module inside its body,
so `cdr1c --help` and a no-op `cdr1c sync` import nothing heavy. A new verb: a function here
with `@cli.command(epilog=EXIT_CODES_HELP)`, its job in jobs/<verb>.py, imported in the body.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from jobs.cli_base import (
    EXIT_CODES_HELP,
    LEDGER_ONLY,
    MONTHS,
    Cdr1cGroup,
    Ctx,
    _date,
    date_range,
    global_options,
    parse_day,
    run_job,
)

__all__ = ["EXIT_CODES_HELP", "MONTHS", "cli", "main", "parse_day"]


@click.group(
    cls=Cdr1cGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
    params=global_options(),
)
@click.version_option(package_name="cdr1c")
@click.pass_context
def cli(click_ctx: click.Context) -> None:
    """cdr1c: Asterisk call records, recordings and live telephony for 1C:Enterprise.

    Reads Asterisk CDR incrementally into a local ledger, pushes an exact copy into a 1C
    information register, reconciles calls with 1C events, renders call-history reports and
    bridges AMI to 1C. Start with `cdr1c demo`, then write a cdr1c.toml (see
    cdr1c.example.toml) and run `cdr1c check`. The options below work after a command too
    (`cdr1c status --config PATH`).
    """
    click_ctx.ensure_object(Ctx)


@cli.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--dir",
    "out_dir",
    default="demo-out",
    show_default=True,
    type=click.Path(path_type=Path),
    help="where the sample PBX, the ledger and the reports are written",
)
@click.option("--calls", default=1500, show_default=True, help="how many calls the sample PBX history has")
@click.option("--seed", default=1, show_default=True, help="random seed (same seed, same history)")
@click.option(
    "--port",
    default=8081,
    show_default=True,
    help="the port the demo's config gives its 1C stand-in (`cdr1c standin` serves it there)",
)
@click.option("--serve", is_flag=True, help="after the demo, keep its 1C stand-in up until Ctrl-C")
@click.option(
    "--panel",
    is_flag=True,
    help="after the demo, run the telephony panel on a simulated PBX (calls from the demo's 1C "
    "clients ring 101) at http://127.0.0.1:PANEL-PORT/panel until Ctrl-C",
)
@click.option("--panel-port", default=8765, show_default=True, help="where --panel serves the panel")
@click.pass_obj
def demo(
    ctx: Ctx, out_dir: Path, calls: int, seed: int, port: int, serve: bool, panel: bool, panel_port: int
) -> None:
    """Build a sample FreePBX PBX and run the whole pipeline on it.

    Creates a SQLite CDR database with the FreePBX columns, WAV recordings in the YYYY/MM/DD
    layout and a config file in DIR, runs it through every stage against a local stand-in of
    1C and prints where to look and what to try next. Needs no database server and no network.
    The stand-in stops with the demo; `cdr1c standin --dir DIR` (or --serve) brings it back so
    check, sync, verify and reconcile work with DIR/cdr1c.toml.
    """
    import jobs.demo as job
    from etl.errors import ExitCode

    def both() -> ExitCode:
        code = job.run(out_dir, calls=calls, seed=seed, port=port, serve=serve)
        if panel:
            import jobs.demo_panel as demo_panel  # the body is there (issue 15)

            code = max(code, demo_panel.run(out_dir, port=panel_port))
        return ExitCode(code)

    run_job(ctx, both)


@cli.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--dir",
    "out_dir",
    default="demo-out",
    show_default=True,
    type=click.Path(path_type=Path),
    help="the folder `cdr1c demo --dir` wrote",
)
@click.pass_obj
def standin(ctx: Ctx, out_dir: Path) -> None:
    """Serve the demo's 1C stand-in until Ctrl-C, so the demo's config works for every command.

    Serves the clients, events and register records the demo left in DIR/onec-standin.jsonl at
    the [onec] url of DIR/cdr1c.toml (http://127.0.0.1:8081/crm unless `cdr1c demo --port`
    chose another), with the demo's credentials. Like 1C, it writes each record it accepts
    (what `sync` pushes) to that file before it answers, so even a `kill -9` loses nothing
    answered. Ctrl-C or SIGTERM stops it (exit 0). While it serves, a new `cdr1c demo` in DIR
    exits 6.
    """
    import jobs.demo as job

    run_job(ctx, lambda: job.serve_standin(out_dir))


@cli.command(epilog=EXIT_CODES_HELP)
@click.pass_obj
def check(ctx: Ctx) -> None:
    """Validate the configuration and reach every configured system.

    Opens each CDR source (and lists the columns it found), the state store, and — where
    configured — the 1C publication, its $metadata and the AMI port. Prints one line per check.
    Creates and changes nothing: a ledger that does not exist yet is what `sync` will create.
    """
    import jobs.check as job

    run_job(ctx, lambda: job.run(ctx.settings))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--dry-run", is_flag=True, help="read and normalise, print what would change, write nothing")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="only this source (repeatable)")
@click.pass_obj
def sync(ctx: Ctx, dry_run: bool, sources: tuple[str, ...]) -> None:
    """One incremental run: CDR → recordings → reconcile → push.

    Reads rows past each source's cursor (minus the look-back window, because Asterisk writes a
    row at hang-up), de-duplicates them on their identity, stores them in the ledger and moves
    the cursor only after the commit. Safe to run again at any time: a re-run with nothing new
    changes nothing.
    """
    import jobs.sync as job

    run_job(ctx, lambda: job.run(ctx.settings, dry_run=dry_run, only=sources))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--since", callback=_date, metavar="DATE", required=True, help="first day (YYYY-MM-DD)")
@click.option("--until", callback=_date, metavar="DATE", required=True, help="last day, inclusive")
@click.option("--dry-run", is_flag=True, help="count and show a sample of what would be sent; write nothing")
@click.option("--no-push", is_flag=True, help="load into the ledger only: no reconciliation, no push to 1C")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="only this source (repeatable)")
@click.pass_obj
def backfill(
    ctx: Ctx, since: date, until: date, dry_run: bool, no_push: bool, sources: tuple[str, ...]
) -> None:
    """Load a bounded date range, independent of the live cursor.

    Resumable: an interrupted backfill started again with the same range continues where it
    stopped. Shows a progress bar on a terminal.
    """
    import jobs.backfill as job

    run_job(
        ctx,
        lambda: job.run(
            ctx.settings, since=since, until=until, dry_run=dry_run, push=not no_push, only=sources
        ),
    )


@cli.command(epilog=EXIT_CODES_HELP)
@click.option(
    "--full",
    is_flag=True,
    help="relink every CDR row of every source, not only the calls new rows or changed files reach",
)
@click.pass_obj
def recordings(ctx: Ctx, full: bool) -> None:
    """Scan the [recordings] folder and link recordings to calls, as `sync` does after a load.

    A run relinks the calls with rows loaded since the last link and the calls a new, changed
    or removed file can reach; the first run, and a run after [recordings] root, pbx_root,
    name_pattern or duration_tolerance changed, relinks everything, as --full does."""
    import jobs.recordings as job

    run_job(ctx, lambda: job.run(ctx.settings, full=full))


@cli.command(epilog=EXIT_CODES_HELP)
@date_range(
    "first day (YYYY-MM-DD; default: 7 days before --until)",
    "last day, inclusive (default: today in [onec] timezone)",
)
@click.pass_obj
def reconcile(ctx: Ctx, since: date | None, until: date | None) -> None:
    """Match calls with 1C events and write the reconciliation report (CSV + JSON)."""
    import jobs.reconcile as job

    run_job(ctx, lambda: job.run(ctx.settings, since=since, until=until))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--client", "client", metavar="ID", help="only this client (1C reference or phone number)")
@date_range(
    "first day (YYYY-MM-DD; default: the first call; the overview: 27 days before --until)",
    "last day, inclusive (default: the last call; the overview: today)",
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), help="output folder (default: [reports] dir)"
)
@click.pass_obj
def report(
    ctx: Ctx, client: str | None, since: date | None, until: date | None, out_dir: Path | None
) -> None:
    """Render the HTML reports: overview, index, per client, reconciliation, data quality."""
    import jobs.report as job

    run_job(ctx, lambda: job.run(ctx.settings, client=client, since=since, until=until, out_dir=out_dir))


@cli.command(epilog=EXIT_CODES_HELP)
@date_range(
    "first day (YYYY-MM-DD; default: 6 days before --until, so the last 7 days)",
    "last day, inclusive (default: today in [onec] timezone, UTC without [onec])",
)
@click.pass_obj
def verify(ctx: Ctx, since: date | None, until: date | None) -> None:
    """Compare source, ledger and 1C register counts per day; exit 7 on a mismatch.

    Without --since and --until: the last 7 days, today included. Days are those of [onec]
    timezone (UTC without [onec]) for all three counts, whatever zone the PBX's clock is in."""
    import jobs.verify as job

    run_job(ctx, lambda: job.run(ctx.settings, since=since, until=until))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--json", "as_json", is_flag=True, help="one JSON object for scripts and monitoring")
@click.pass_obj
def status(ctx: Ctx, as_json: bool) -> None:
    """Cursors, row and call counts, quarantine, outbox backlog, dead letters, last runs.

    Reads only the ledger: the PBX's, 1C's and AMI's secrets need not be in the environment."""
    import jobs.status as job

    run_job(ctx, lambda: job.run(ctx.load(LEDGER_ONLY), as_json=as_json))


@cli.command(epilog=EXIT_CODES_HELP)
@click.pass_obj
def schedule(ctx: Ctx) -> None:
    """Run the jobs of [schedule] with APScheduler until SIGTERM or Ctrl-C.

    Each job (sync, recordings, reconcile, report, verify, prune) runs on its cron expression
    ("*/5 * * * *") or interval ("every 30s"), one instance at a time, sharing the locks of
    cron-launched runs. On SIGTERM the running sync commits its current chunk, then the
    process exits 0."""
    import jobs.scheduler as job

    run_job(ctx, lambda: job.run(ctx.settings, metrics_file=ctx.metrics_file))


@cli.command(epilog=EXIT_CODES_HELP)
@click.option("--dry-run", is_flag=True, help="count what would be removed; remove nothing")
@click.pass_obj
def prune(ctx: Ctx, dry_run: bool) -> None:
    """Delete run logs older than [general] keep_runs and delivered-record hashes of calls older
    than keep_delivered, so the ledger stays small. CDR rows, calls, the outbox, dead letters and
    quarantine are never pruned (docs/operations.md)."""
    import jobs.prune as job

    run_job(ctx, lambda: job.run(ctx.load(LEDGER_ONLY), dry_run=dry_run))


@cli.command(epilog=EXIT_CODES_HELP)
@click.pass_obj
def live(ctx: Ctx) -> None:
    """The AMI bridge and its HTTP API for 1C (click-to-call, intercept, spy, line status); with
    [ami] sync_on, each finished call synced and pushed to 1C within seconds."""
    import jobs.live as job

    run_job(ctx, lambda: job.run(ctx.settings))


from jobs.tokens import command as tokens_command  # noqa: E402  (its body is in jobs/tokens.py)

cli.add_command(tokens_command(run_job, global_options))


def main() -> None:
    cli(prog_name="cdr1c")
