"""The `cdr1c` command: one click group, one thin function per verb.

Each verb loads the settings, calls the job module (which composes `etl/` parts) and turns the
outcome into an exit code. Errors that need a human are `Cdr1cError`s: their message is printed
(with secrets masked) and their exit code returned; anything else is a bug and exits 1.
"""

from __future__ import annotations

import calendar
import logging
import re
import sys
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from etl.config import Settings, load_settings, resolve_config_path
from etl.errors import Cdr1cError, ExitCode
from etl.logs import setup_logging
from etl.secrets import redact

log = logging.getLogger("cdr1c")

EXIT_CODES_HELP = """\b
Exit codes:
  0  everything done
  1  unexpected error (a bug; the log has the traceback)
  2  configuration or command-line error, or 1C lacks an object the job needs
  3  a CDR source or the state store is unreachable
  4  the 1C publication is unreachable or refuses the credentials
  5  finished, but rows were quarantined, records dead-lettered, or 1C lacks
     an entity set or field a stage reads (the run summary names it)
  6  another run of the same job holds the lock; nothing was done
  7  verify found counts that disagree
"""

F = TypeVar("F", bound=Callable[..., Any])
# What `status` and `prune` read: the ledger (and the lock folder), never a PBX, 1C or AMI, so
# they run without those systems' secrets in the environment.
LEDGER_ONLY = ("state", "general")


class Ctx:
    """What every verb needs: where the config is and how to log.

    The global options fill it whether they come before the verb or after it
    (`cdr1c --config X status` and `cdr1c status --config X` are the same)."""

    def __init__(self) -> None:
        self.config: str | None = None
        self.log_format = "text"
        self.verbose = 0
        self.metrics_file: Path | None = None
        self._settings: Settings | None = None

    @property
    def config_path(self) -> Path:
        return resolve_config_path(self.config)

    @property
    def level(self) -> int:
        return logging.DEBUG if self.verbose else logging.INFO

    def start_logging(self) -> None:
        setup_logging(self.log_format, self.level, _secrets_of(self))

    @property
    def settings(self) -> Settings:
        return self.load()

    def load(self, uses: Collection[str] | None = None) -> Settings:
        """The settings, read once. `uses`: the only sections the command reaches; an unset
        `${NAME}` in another section is then no error (etl.config.parse_settings)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path, uses=uses)
            self.start_logging()
        return self._settings


def _secrets_of(ctx: Ctx | None) -> list[str]:
    if ctx is not None and ctx._settings is not None:
        return ctx._settings.secrets()
    return []


def run_job(ctx: Ctx, fn: Callable[[], ExitCode | int | None]) -> None:
    """Run `fn`, print a failure as one clear line, and exit with the right code."""
    ctx.start_logging()
    try:
        code = fn()
    except Cdr1cError as exc:
        message = redact(str(exc), _secrets_of(ctx))
        if ctx.log_format == "json":  # a log collector reads stderr: keep every line JSON
            log.error("error: %s", message, extra={"fields": {"exit_code": int(exc.exit_code)}})
        else:
            click.echo(f"error: {message}", err=True)
        _write_metrics(ctx)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:
        log.exception("unexpected error")
        _write_metrics(ctx)
        sys.exit(int(ExitCode.FAILED))
    _write_metrics(ctx)
    sys.exit(int(code or 0))


def _write_metrics(ctx: Ctx) -> None:
    """--metrics-file: rewrite the Prometheus textfile from the ledger after every command."""
    if ctx.metrics_file is not None and ctx._settings is not None:
        from jobs.common import write_metrics_file

        write_metrics_file(ctx._settings, ctx.metrics_file)


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_day(text: str) -> date:
    """A `YYYY-MM-DD` day. The ValueError says what is wrong: the format, or which part of a
    well-formed date does not exist (`2026-02-30`: February 2026 has 28 days)."""
    m = _DAY.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"expected YYYY-MM-DD, got {text!r}")
    year, month, day = (int(g) for g in m.groups())
    if year < 1:
        raise ValueError(f"{text} is not a date: years start at 0001")
    if not 1 <= month <= 12:
        raise ValueError(f"{text} is not a date: there is no month {month:02d} (01 to 12)")
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        raise ValueError(f"{text} is not a date: {MONTHS[month - 1]} {year} has {days} days")
    return date(year, month, day)


def _date(_: click.Context, __: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def date_range(since_help: str, until_help: str) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        fn = click.option("--until", callback=_date, metavar="DATE", help=until_help)(fn)
        return click.option("--since", callback=_date, metavar="DATE", help=since_help)(fn)

    return decorate


def _set_global(click_ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Store a global option in the Ctx; one given after the verb overrides one given before."""
    if value is None or value == 0:  # not given here (`-v` counts from 0)
        return
    ctx = click_ctx.ensure_object(Ctx)
    if param.name == "verbose":
        ctx.verbose += value
    else:
        setattr(ctx, str(param.name), value)


def global_options() -> list[click.Parameter]:
    """The options every command takes, before or after its verb (fresh objects per command)."""
    common: dict[str, Any] = {"expose_value": False, "callback": _set_global}
    return [
        click.Option(
            ["--config", "config"],
            metavar="PATH",
            help="configuration file (default: $CDR1C_CONFIG, then ./cdr1c.toml)",
            **common,
        ),
        click.Option(
            ["--log-format", "log_format"],
            type=click.Choice(["text", "json"]),
            help="log lines for people (text, the default) or JSON lines for a log collector",
            **common,
        ),
        click.Option(["-v", "--verbose", "verbose"], count=True, help="debug logging", **common),
        click.Option(
            ["--metrics-file", "metrics_file"],
            metavar="PATH",
            type=click.Path(path_type=Path, dir_okay=False),
            envvar="CDR1C_METRICS_FILE",
            help="after each run, rewrite this Prometheus textfile for node_exporter (e.g. "
            "/var/lib/node_exporter/textfile_collector/cdr1c.prom; also $CDR1C_METRICS_FILE)",
            **common,
        ),
    ]


class Cdr1cGroup(click.Group):
    """A group whose every command also takes the global options after its verb."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.extend(global_options())
        super().add_command(cmd, name)


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
@click.pass_obj
def demo(ctx: Ctx, out_dir: Path, calls: int, seed: int, port: int, serve: bool) -> None:
    """Build a sample FreePBX PBX and run the whole pipeline on it.

    Creates a SQLite CDR database with the FreePBX columns, WAV recordings in the YYYY/MM/DD
    layout and a config file in DIR, runs it through every stage against a local stand-in of
    1C and prints where to look and what to try next. Needs no database server and no network.
    The stand-in stops with the demo; `cdr1c standin --dir DIR` (or --serve) brings it back so
    check, sync, verify and reconcile work with DIR/cdr1c.toml.
    """
    import jobs.demo as job

    run_job(ctx, lambda: job.run(out_dir, calls=calls, seed=seed, port=port, serve=serve))


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

    Serves the clients, events and register records the demo left in DIR/onec-standin.json at
    the [onec] url of DIR/cdr1c.toml (http://127.0.0.1:8081/crm unless `cdr1c demo --port`
    chose another), with the demo's credentials. On Ctrl-C or SIGTERM it saves what it holds
    (what `sync` pushed meanwhile) back to that file and exits 0. While it serves, a new
    `cdr1c demo` in DIR exits 6.
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
    """The AMI bridge and its HTTP API for 1C (click-to-call, intercept, spy, line status)."""
    import jobs.live as job

    run_job(ctx, lambda: job.run(ctx.settings))


def main() -> None:
    cli(prog_name="cdr1c")
