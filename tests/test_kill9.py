"""A `kill -9` at any moment of a sync, then a re-run: the ledger is as if nothing happened."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import calls, cdr_rows
from tests.capture import capture_rows, load_cdr
from tests.conftest import ROOT, Databases, require_fixtures

ROW_COLUMNS = [c.name for c in cdr_rows.columns if c.name != "loaded_us"]
CALL_COLUMNS = [c.name for c in calls.columns if c.name != "updated_us"]


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


def write_config(path: Path, source_url: str, ledger_url: str) -> Path:
    path.write_text(
        f'[source]\nurl = "{source_url}"\ntimezone = "UTC"\nchunk_size = 200\nlookback = "1h"\n'
        f'[state]\nurl = "{ledger_url}"\n[general]\nlock_dir = "{path.parent}"\n'
    )
    return path


def run_sync(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "jobs", "--config", str(config), "sync"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


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
    require_fixtures()
    rows = many_rows(250)  # 12,000 rows, 60 chunks of 200
    src = databases.url("sqlite")
    load_cdr(src, rows)
    clean_url = databases.url("sqlite")
    clean_cfg = write_config(tmp_path / "clean.toml", src, clean_url)
    started = time.monotonic()
    assert run_sync(clean_cfg).wait(120) == 0
    whole_run = time.monotonic() - started
    clean_rows, clean_calls = snapshot(clean_url)
    assert len(clean_rows) == len(rows)
    rng = random.Random(42)
    cut = 0
    for trial in range(5):
        killed_url = databases.url("sqlite")
        killed_cfg = write_config(tmp_path / f"killed{trial}.toml", src, killed_url)
        proc = run_sync(killed_cfg)
        time.sleep(rng.uniform(0.4, 0.95) * whole_run)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            cut += 1
        proc.wait(30)
        partial = Ledger.open(killed_url).count(cdr_rows) if proc.returncode == -signal.SIGKILL else None
        assert run_sync(killed_cfg).wait(120) == 0
        killed_rows, killed_calls = snapshot(killed_url)
        pd.testing.assert_frame_equal(clean_rows, killed_rows)
        pd.testing.assert_frame_equal(clean_calls, killed_calls)
        if partial is not None:
            assert partial < len(rows)
    assert cut >= 3  # most runs really were cut in the middle
