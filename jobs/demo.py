"""`cdr1c demo`: a sample FreePBX PBX, the pipeline run on it, and where to look.

Everything lands in one folder: the PBX (`pbx/asteriskcdrdb.sqlite` with FreePBX's `cdr`
table, `pbx/monitor/YYYY/MM/DD/*.wav`), a `cdr1c.toml` pointing at them, the ledger and the
reports. Running it again starts from scratch, so the output is the same for the same seed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from etl.config import load_settings
from etl.demo import generate_history, write_recordings, write_sqlite
from etl.errors import ExitCode
from jobs import status as status_job
from jobs import sync as sync_job

DEMO_ZONE = "Europe/Moscow"


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


def build_pbx(out_dir: Path, calls: int, seed: int) -> tuple[int, int]:
    """The sample PBX: CDR rows in SQLite and recordings on disk. Returns (rows, files)."""
    pbx = out_dir / "pbx"
    if pbx.exists():
        shutil.rmtree(pbx)
    pbx.mkdir(parents=True)
    rows = list(generate_history(calls, seed, timezone=DEMO_ZONE))
    written = write_sqlite(pbx / "asteriskcdrdb.sqlite", rows)
    files = write_recordings(pbx / "monitor", rows)
    return written, files


def run(out_dir: Path, *, calls: int = 400, seed: int = 1) -> ExitCode:
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"):
        (out_dir / stale).unlink(missing_ok=True)
    rows, files = build_pbx(out_dir, calls, seed)
    click.echo(f"sample PBX: {rows} CDR rows of {calls} calls, {files} recordings in {out_dir / 'pbx'}")
    config = write_config(out_dir)
    settings = load_settings(config)
    code = sync_job.run(settings)
    click.echo("")
    status_job.run(settings)
    click.echo(f"configuration: {config}")
    click.echo(f"ledger:        {out_dir / 'ledger.sqlite'}")
    click.echo(f"try:           cdr1c --config {config} status")
    # quarantined rows are expected in a demo only if the generator made some: report honestly
    return code
