"""`cdr1c check`: the configuration is valid and every configured system answers.

It creates and changes nothing: the ledger is only looked at (`Ledger.probe`), a CDR database
is opened read-only, and 1C's `$metadata` is read fresh without writing the cache."""

from __future__ import annotations

import socket

import click

from etl.config import Settings
from etl.errors import Cdr1cError, ExitCode
from etl.ledger.store import Ledger
from etl.sources import open_source
from jobs.common import worst


def _line(ok: bool, what: str, detail: str) -> None:
    mark = click.style("ok  ", fg="green") if ok else click.style("FAIL", fg="red")
    click.echo(f"{mark} {what}: {detail}")


def run(settings: Settings) -> ExitCode:
    codes: list[ExitCode] = []
    _line(True, "config", str(settings.path))
    for name, src in settings.sources.items():
        try:
            source = open_source(src)
            try:
                _line(True, f"source {name}", source.describe())
            finally:
                source.close()
        except Cdr1cError as exc:
            _line(False, f"source {name}", str(exc))
            codes.append(exc.exit_code)
    try:
        _line(True, "state", Ledger.probe(settings.state.url))
    except Cdr1cError as exc:
        _line(False, "state", str(exc))
        codes.append(exc.exit_code)
    if settings.recordings:
        root = settings.recordings.root
        ok = root.is_dir()
        _line(ok, "recordings", f"{root} {'is readable' if ok else 'is not a folder'}")
        if not ok:
            codes.append(ExitCode.CONFIG)
    if settings.onec:
        from etl.onec.client import OnecClient
        from etl.onec.metadata import mapping_problems, parse_metadata

        try:
            with OnecClient(settings.onec) as client:  # fresh $metadata, and no cache written
                problems = mapping_problems(settings.onec, parse_metadata(client.metadata()))
            _line(not problems, "1C mapping", "every entity set and field exists" if not problems else "")
            for problem in problems:
                click.echo(f"     - {problem}")
            if problems:
                codes.append(ExitCode.CONFIG)
        except Cdr1cError as exc:
            _line(False, "1C", str(exc))
            codes.append(exc.exit_code)
    if settings.ami:
        try:
            with socket.create_connection((settings.ami.host, settings.ami.port), timeout=5) as sock:
                sock.settimeout(5)
                banner = sock.recv(100).decode("utf-8", "replace").strip()
            ok = banner.startswith("Asterisk Call Manager")
            _line(ok, "ami", f"{settings.ami.host}:{settings.ami.port} answers {banner!r}")
            if not ok:
                codes.append(ExitCode.SOURCE_UNREACHABLE)
        except OSError as exc:
            _line(False, "ami", f"{settings.ami.host}:{settings.ami.port}: {exc}")
            codes.append(ExitCode.SOURCE_UNREACHABLE)
    return worst(*codes)
