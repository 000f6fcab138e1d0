"""`cdr1c demo`: a sample FreePBX PBX, the pipeline run on it, and where to look.

Everything lands in one folder: the PBX (`pbx/asteriskcdrdb.sqlite` with FreePBX's `cdr`
table, `pbx/monitor/YYYY/MM/DD/*.wav`), a `cdr1c.toml` pointing at them, the ledger, the
reports and the data of the demo's 1C stand-in (`onec-standin.jsonl`). Running it again starts
from scratch, so the output is the same for the same seed.

The demo runs its 1C stand-in on a free port; `cdr1c standin --dir DIR` (or `cdr1c demo --serve`)
serves the same data afterwards on the port the demo's config names, so every command works
with that config. The stand-in keeps its data in that file as 1C keeps its infobase (each
accepted write on disk before its answer, etl/sandbox/standin/journal.py), and holds the
`standin` lock of the folder while it serves, so a new demo there waits for it to stop.
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from etl.config import Settings, load_settings
from etl.errors import ConfigError, ExitCode
from etl.locks import job_lock
from etl.sandbox.crm import EMPLOYEES, seed_crm
from etl.sandbox.pbx import generate_history, write_recordings, write_sqlite
from etl.sandbox.standin import StandIn
from jobs import report as report_job
from jobs import status as status_job
from jobs import sync as sync_job
from jobs.common import graceful_stop, worst

DEMO_ZONE = "Europe/Moscow"
DEMO_PORT = 8081  # where `cdr1c standin` serves the demo's 1C (`cdr1c demo --port`)
STANDIN_DATA = "onec-standin.jsonl"
DEMO_USER, DEMO_PASSWORD = "Администратор", "demo-пароль"


def write_config(out_dir: Path, extra: str = "") -> Path:
    path = out_dir / "cdr1c.toml"
    path.write_text(
        f"""# Written by `cdr1c demo`: the sample PBX in this folder.
[source]
url = "sqlite:///{(out_dir / "pbx" / "asteriskcdrdb.sqlite").as_posix()}"
timezone = "{DEMO_ZONE}"
lookback = "6h"

[state]
url = "sqlite:///{(out_dir / "ledger.sqlite").as_posix()}"

[recordings]
root = "{(out_dir / "pbx" / "monitor").as_posix()}"
url_base = "../pbx/monitor/"
# the demo's recordings are 5-second excerpts of each call: don't flag their length
duration_tolerance = 86400

[reports]
dir = "{(out_dir / "reports").as_posix()}"
timezone = "{DEMO_ZONE}"
lang = "ru"

[general]
lock_dir = "{out_dir.as_posix()}"
{extra}""",
        encoding="utf-8",
    )
    return path


def build_pbx(out_dir: Path, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """The sample PBX: CDR rows in SQLite and recordings on disk. Returns (rows, files)."""
    pbx = out_dir / "pbx"
    if pbx.exists():
        shutil.rmtree(pbx)
    pbx.mkdir(parents=True)
    written = write_sqlite(pbx / "asteriskcdrdb.sqlite", rows)
    files = write_recordings(pbx / "monitor", rows)
    return written, files


def _program() -> str:
    """How to call cdr1c from a shell: `cdr1c` when it is on PATH, else its full path (the
    Makefile's virtual environment is not on PATH)."""
    found = shutil.which("cdr1c")
    beside = Path(sys.executable).parent / "cdr1c"
    if found and Path(found).resolve() == beside.resolve():
        return "cdr1c"
    return str(beside) if beside.exists() else "cdr1c"


def onec_section(out_dir: Path, port: int) -> str:
    extensions = "\n".join(f'"{e}" = "{n}"' for e, n in EMPLOYEES.items())
    return f"""
[onec]
# The demo's local stand-in of 1C: `cdr1c standin --dir {out_dir.as_posix()}`
# serves it at this url until Ctrl-C (its data stay in {STANDIN_DATA} there);
# `cdr1c demo --serve` keeps it up right after the demo.
mode = "odata"
url = "http://127.0.0.1:{port}/crm"
user = "{DEMO_USER}"
password = "{DEMO_PASSWORD}"
timezone = "{DEMO_ZONE}"
register = "InformationRegister_ЗвонкиАТС"
event_document = "Document_Событие"
event_call_id_field = "ИдентификаторЗвонка"
event_client_field = "Контрагент"
client_catalog = "Catalog_Контрагенты"
manager_field = "ОсновнойМенеджерПокупателя_Key"
user_extension_field = "ВнутреннийНомер"
first_timeout = 10
retries = 2

[onec.extensions]
{extensions}
"""


def _at(settings: Settings, url: str) -> Settings:
    """The settings with [onec] url replaced: the demo's own run talks to its stand-in there."""
    assert settings.onec is not None
    return dataclasses.replace(settings, onec=dataclasses.replace(settings.onec, url=url))


def _next_steps(out_dir: Path, config: Path, rows: list[dict[str, Any]]) -> list[str]:
    """The commands the demo suggests, one per line, as a user types them."""
    program, cfg = _program(), shlex.quote(str(config))
    days = sorted(r["calldate"].date() for r in rows)
    span = f" --since {days[0]} --until {days[-1]}" if days else ""
    return [
        f"{program} standin --dir {shlex.quote(str(out_dir))}",
        *(f"{program} {verb} --config {cfg}" for verb in ("check", "sync")),
        *(f"{program} {verb} --config {cfg}{span}" for verb in ("verify", "reconcile")),
        f"{program} status --config {cfg}",
    ]


def run(
    out_dir: Path, *, calls: int = 1500, seed: int = 1, port: int = DEMO_PORT, serve: bool = False
) -> ExitCode:
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with job_lock(out_dir, "standin"):  # not while `cdr1c standin` serves this folder's 1C
        code, rows, config = _build(out_dir, calls, seed, port)
    standin, *commands = _next_steps(out_dir, config, rows)
    click.echo(f"1C stand-in:    stopped with the demo; its data are in {out_dir / STANDIN_DATA}")
    click.echo(f"keep 1C up:     {standin}")
    click.echo(f"                (1C at http://127.0.0.1:{port}/crm until Ctrl-C; the commands below use it)")
    click.echo("then try:       " + "\n                ".join(commands))
    if serve:
        code = worst(code, serve_standin(out_dir))
    return code


def _build(out_dir: Path, calls: int, seed: int, port: int) -> tuple[ExitCode, list[dict[str, Any]], Path]:
    for stale in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", STANDIN_DATA):
        (out_dir / stale).unlink(missing_ok=True)
    rows = list(generate_history(calls, seed, timezone=DEMO_ZONE))
    written, files = build_pbx(out_dir, rows)
    click.echo(f"sample PBX: {written} CDR rows of {calls} calls, {files} recordings in {out_dir / 'pbx'}")
    config = write_config(out_dir, onec_section(out_dir, port))
    settings = load_settings(config)
    with StandIn(user=DEMO_USER, password=DEMO_PASSWORD) as stand:
        stand.keep(out_dir / STANDIN_DATA)
        crm = seed_crm(stand, rows, seed)
        click.echo(
            f"1C stand-in: {crm['clients']} clients, {crm['events']} events, {crm['employees']} employees"
        )
        code = sync_job.run(_at(settings, stand.url))
        held = len(stand.records())
    report_code = report_job.run(settings)
    click.echo("")
    status_job.run(settings)
    click.echo(f"1C register (stand-in) holds {held} records, one per CDR row")
    click.echo(f"reports:        {out_dir / 'reports' / 'index.html'}")
    click.echo(f"configuration:  {config}")
    click.echo(f"ledger:         {out_dir / 'ledger.sqlite'}")
    return worst(code, report_code), rows, config


def serve_standin(out_dir: Path) -> ExitCode:
    """`cdr1c standin`: serve the demo's 1C from its saved data at the url of the demo's config,
    until Ctrl-C or SIGTERM; what `sync` pushes meanwhile is on disk before 1C answers it."""
    out_dir = out_dir.resolve()
    data = out_dir / STANDIN_DATA
    if not data.is_file():
        raise ConfigError(f"{data} not found: run `cdr1c demo --dir {out_dir}` first", "--dir")
    cfg = load_settings(out_dir / "cdr1c.toml").onec
    if cfg is None:
        raise ConfigError(f"{out_dir / 'cdr1c.toml'} has no [onec] section", "onec")
    url = urlsplit(cfg.url)
    with job_lock(out_dir, "standin"):
        host, port = url.hostname or "127.0.0.1", url.port or 80
        try:
            stand = StandIn(
                user=cfg.user, password=cfg.password, base=url.path, register=cfg.register,
                fields=cfg.fields, key=cfg.key, host=host, port=port,
            )  # fmt: skip
        except OSError as exc:
            raise ConfigError(
                f"cannot serve at {host}:{port} ({exc.strerror}); another program has the port: "
                "stop it, or build the demo for another one (`cdr1c demo --port N`)",
                "onec.url",
            ) from None
        stand.keep(data)
        with graceful_stop(doing="stopping the stand-in (its data are on disk)") as stop, stand:
            click.echo(f"1C stand-in of {out_dir} at {stand.url}: Ctrl-C stops it")
            while not stop.wait(1.0):
                pass
    click.echo(f"1C stand-in stopped; its data are in {data}")
    return ExitCode.OK
