"""A `kill -9` at any moment of a sync, then a re-run: the ledger is as if nothing happened."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import calls, cdr_rows
from tests.capture import capture_rows, load_cdr
from tests.conftest import ROOT, Databases, require_fixtures
from tests.ops_helpers import row_count, wait_for, write_config

ROW_COLUMNS = [c.name for c in cdr_rows.columns if c.name != "loaded_us"]
CALL_COLUMNS = [c.name for c in calls.columns if c.name != "updated_us"]
WAIT = 120  # seconds: a generous bound on a whole sync; only a failure waits it out


def many_rows(copies: int) -> list[dict[str, Any]]:
    """The capture repeated `copies` times, each copy a minute later with its own ids."""
    base = capture_rows()
    out = []
    for i in range(copies):
        for r in base:
            c = dict(r)
            for k in ("uniqueid", "linkedid"):
                c[k] = f"{r[k]}x{i}"
            for k in ("calldate", "start", "answer", "end"):
                if c.get(k) is not None:
                    c[k] = r[k] + timedelta(minutes=i)
            out.append(c)
    return out


def run_sync(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "jobs", "--config", str(config), "sync"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def kill_sync_at(config: Path, ledger_url: str, rows: int) -> int | None:
    """Start a sync, `kill -9` it once the ledger holds `rows` rows; its exit status."""
    proc = run_sync(config)
    try:
        wait_for(lambda: proc.poll() is not None or row_count(ledger_url) >= rows, WAIT, f"{rows} rows")
    finally:
        proc.send_signal(signal.SIGKILL)
    return proc.wait(WAIT)


def snapshot(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    ledger = Ledger.open(url)
    with ledger.engine.connect() as conn:
        rows = pd.DataFrame(
            conn.execute(select(*[cdr_rows.c[c] for c in ROW_COLUMNS]).order_by(cdr_rows.c.row_id)).all()
        )
        cs = pd.DataFrame(
            conn.execute(select(*[calls.c[c] for c in CALL_COLUMNS]).order_by(calls.c.linkedid)).all()
        )
    ledger.close()
    return rows, cs


def test_kill9_at_random_moments_then_rerun(tmp_path: Path, databases: Databases) -> None:
    """Each run is killed once the ledger holds a number of rows drawn at random from the first
    half: the kill lands in the middle of the run (in whichever chunk is in flight then) on any
    machine, however fast."""
    require_fixtures()
    rows = many_rows(250)  # 12,000 rows, 60 chunks of 200
    src = databases.url("sqlite")
    load_cdr(src, rows)
    clean_url = databases.url("sqlite")
    clean_cfg = write_config(tmp_path / "clean.toml", src, clean_url)
    assert run_sync(clean_cfg).wait(WAIT) == 0
    clean_rows, clean_calls = snapshot(clean_url)
    assert len(clean_rows) == len(rows)
    rng = random.Random(42)
    for trial in range(5):
        killed_url = databases.url("sqlite")
        killed_cfg = write_config(tmp_path / f"killed{trial}.toml", src, killed_url)
        at = rng.randint(1, len(rows) // 2)
        assert kill_sync_at(killed_cfg, killed_url, at) == -signal.SIGKILL, "the sync ended before the kill"
        assert at <= row_count(killed_url) < len(rows)  # cut in the middle
        assert run_sync(killed_cfg).wait(WAIT) == 0
        killed_rows, killed_calls = snapshot(killed_url)
        pd.testing.assert_frame_equal(clean_rows, killed_rows)
        pd.testing.assert_frame_equal(clean_calls, killed_calls)
