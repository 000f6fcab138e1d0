"""What every verb of the `cdr1c` command shares (the verbs are in jobs/cli.py): the context
with the global options, the way a job runs and exits, date options, the group class.

Imports click and the standard library only: `cdr1c --help`, and a `cdr1c sync` that finds
nothing new, load nothing a verb does not need (tests/test_cli_imports.py). Settings, logging
and the job modules load inside the functions that use them.
"""

from __future__ import annotations

import calendar
import logging
import re
import sys
from collections.abc import Callable, Collection
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from etl.errors import Cdr1cError, ExitCode

if TYPE_CHECKING:
    from etl.config import Settings

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
  8  status, prune --dry-run: no ledger at [state] url yet (nothing
     created; `cdr1c sync` creates it)
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
        from etl.config import resolve_config_path

        return resolve_config_path(self.config)

    @property
    def level(self) -> int:
        return logging.DEBUG if self.verbose else logging.INFO

    def start_logging(self) -> None:
        from etl.logs import setup_logging

        setup_logging(self.log_format, self.level, _secrets_of(self))

    @property
    def settings(self) -> Settings:
        return self.load()

    def load(self, uses: Collection[str] | None = None) -> Settings:
        """The settings, read once. `uses`: the only sections the command reaches; an unset
        `${NAME}` in another section is then no error (etl.config.parse_settings)."""
        if self._settings is None:
            from etl.config import load_settings

            self._settings = load_settings(self.config_path, uses=uses)
            self.start_logging()
        return self._settings


def _secrets_of(ctx: Ctx | None) -> list[str]:
    if ctx is not None and ctx._settings is not None:
        return ctx._settings.secrets()
    return []


def run_job(ctx: Ctx, fn: Callable[[], ExitCode | int | None]) -> None:
    """Run `fn`, print a failure as one clear line, and exit with the right code."""
    from etl.secrets import redact

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
