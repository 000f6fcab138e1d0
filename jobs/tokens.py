"""`cdr1c tokens add|list|revoke`: the employees' API and panel tokens (etl/api/access.py).

A token is shown once, when it is added; the file (`[api] tokens_file`) keeps only its SHA-256
hash, so it cannot be shown again: revoke it and add a new one. `cdr1c live` re-reads the file
when it changes, so neither adding nor revoking needs a restart.

The group is built here and registered by jobs/cli.py with its own `run_job` (no import back).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from etl.api.access import ROLES, TokenFile
from etl.errors import ConfigError, ExitCode

USES = ("general",)  # only the [api] tokens_file is read: no secret of any section is needed


def _file(ctx: Any) -> TokenFile:
    settings = ctx.load(USES)
    path: Path | None = settings.api.tokens_file if settings.api is not None else None
    if path is None:
        raise ConfigError("the tokens need an [api] section (tokens_file)", "api")
    return TokenFile(path)


def add(ctx: Any, extension: str, role: str, name: str) -> ExitCode:
    from etl.config import AmiSettings

    settings = ctx.load(USES)
    pattern = settings.ami.extension_pattern if settings.ami is not None else AmiSettings.extension_pattern
    if not extension.isascii() or not re.fullmatch(pattern, extension):
        raise ConfigError(f"{extension!r} does not match [ami] extension_pattern {pattern}", "ami")
    rec, token = _file(ctx).add(extension, role, name)
    click.echo(f"token {rec.id} for {role} {name or '-'} at extension {extension}:")
    click.echo(token)
    click.echo("Shown once, kept only hashed: give it to the employee's 1C settings (docs/onec/panel.md).")
    return ExitCode.OK


def show(ctx: Any, as_json: bool) -> ExitCode:
    records = [r.public() for r in _file(ctx).records()]
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return ExitCode.OK
    if not records:
        click.echo("no employee tokens (only the [api] token, the administrator's)")
    for r in records:
        created = datetime.fromtimestamp(r["created"], UTC).strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"{r['id']}  {r['extension']:>6}  {r['role']:<10}  {created}  {r['name']}")
    return ExitCode.OK


def revoke(ctx: Any, ident: str) -> ExitCode:
    gone = _file(ctx).revoke(ident)
    if not gone:
        click.echo(f"no token with id or extension {ident!r}", err=True)
        return ExitCode.FAILED
    for r in gone:
        click.echo(f"revoked {r.id} ({r.role} at {r.extension})")
    return ExitCode.OK


def command(
    run_job: Callable[[Any, Callable[[], ExitCode]], None], options: Callable[[], list[click.Parameter]]
) -> click.Group:
    """The `tokens` group; `options()` gives the global options every subcommand also takes."""

    @click.group("tokens")
    def tokens() -> None:
        """Employees' tokens for the API and the panel: each bound to an extension and a role.

        A manager's token originates, intercepts and picks up only to its own extension and
        sees its own calls; a supervisor's may also listen, whisper and barge. The [api] token
        stays the administrator's. Stored hashed in [api] tokens_file; `cdr1c live` re-reads it.
        """

    @tokens.command("add")
    @click.argument("extension")
    @click.option("--role", type=click.Choice(ROLES), default="manager", show_default=True)
    @click.option("--name", default="", help="who it is for (shown by `list`), e.g. the 1C user's name")
    @click.pass_obj
    def add_cmd(ctx: Any, extension: str, role: str, name: str) -> None:
        """Create a token for EXTENSION and print it (once)."""
        run_job(ctx, lambda: add(ctx, extension, role, name))

    @tokens.command("list")
    @click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
    @click.pass_obj
    def list_cmd(ctx: Any, as_json: bool) -> None:
        """Show the tokens: id, extension, role, created, name (never the token)."""
        run_job(ctx, lambda: show(ctx, as_json))

    @tokens.command("revoke")
    @click.argument("ident")
    @click.pass_obj
    def revoke_cmd(ctx: Any, ident: str) -> None:
        """Revoke the token with id IDENT, or every token of extension IDENT (exit 1 if none)."""
        run_job(ctx, lambda: revoke(ctx, ident))

    for cmd in tokens.commands.values():
        cmd.params.extend(options())
    return tokens
