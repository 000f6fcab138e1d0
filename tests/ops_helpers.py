"""Helpers for the operations tests: configs, `cdr1c` in a subprocess, ledger snapshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, runs
from tests.conftest import ROOT


def write_config(
    path: Path, source_url: str, ledger_url: str, extra: str = "", chunk_size: int = 200
) -> Path:
    path.write_text(
        f'[source]\nurl = "{source_url}"\ntimezone = "UTC"\nchunk_size = {chunk_size}\nlookback = "1h"\n'
        f'[state]\nurl = "{ledger_url}"\n'
        f'[general]\nlock_dir = "{path.parent}"\n{extra}'
    )
    return path


def cdr1c(config: Path, *args: str, stdout: int | None = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """`cdr1c --config CONFIG ARGS…` as a child process (global options go first in `args`)."""
    globals_, verb = [], list(args)
    while verb and verb[0].startswith("-"):
        globals_.append(verb.pop(0))
        if globals_[-1] in ("--metrics-file", "--log-format"):
            globals_.append(verb.pop(0))
    return subprocess.Popen(
        [sys.executable, "-m", "jobs", "--config", str(config), *globals_, *verb],
        cwd=ROOT,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def run_cdr1c(config: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    proc = cdr1c(config, *args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(), err.decode()


def row_count(ledger_url: str) -> int:
    ledger = Ledger.open(ledger_url)
    try:
        return ledger.count(cdr_rows)
    finally:
        ledger.close()


def wait_for(predicate, timeout: float, what: str, step: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def finished_runs(ledger_url: str, job: str) -> list[dict]:  # type: ignore[type-arg]
    ledger = Ledger.open(ledger_url)
    try:
        with ledger.engine.connect() as conn:
            rows = conn.execute(
                select(runs).where(runs.c.job == job, runs.c.finished.is_not(None)).order_by(runs.c.id)
            ).mappings()
            return [dict(r) for r in rows]
    finally:
        ledger.close()
