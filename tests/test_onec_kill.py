"""`kill -9` of a push at random moments, each followed by a re-run: every record exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from etl.ledger.store import Ledger
from etl.onec import outbox
from etl.sandbox.standin import Faults, StandIn
from tests.onec_helpers import cdr_row, insert_rows, ledger_count

CHILD = Path(__file__).with_name("onec_push_child.py")
ROWS = 400
KILLS = 10


def test_kill_9_at_random_moments_then_rerun(ledger_url: str) -> None:
    rng = random.Random(20261125)
    ledger = Ledger.open(ledger_url)
    rows = [cdr_row(uniqueid=f"1795650{i:03}.{i}", cnam="Смирнова Ольга") for i in range(ROWS)]
    insert_rows(ledger, rows)
    with StandIn(faults=Faults(latency=0.02)) as stand:
        partial = 0
        for _ in range(KILLS):
            proc = subprocess.Popen(
                [sys.executable, str(CHILD), stand.url, ledger_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert proc.stdout is not None
            proc.stdout.readline()  # "started": imports done, the push begins now
            requests_before = stand.stats.requests
            time.sleep(rng.uniform(0.1, 0.45))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            if stand.stats.requests > requests_before and ledger_count(ledger, outbox.outbox) > 0:
                partial += 1  # killed while talking to 1C, work left
        assert partial >= KILLS, "the kills must land in the middle of pushes"
        final = subprocess.run(
            [sys.executable, str(CHILD), stand.url, ledger_url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert final.returncode == 0, final.stderr
        keys = [k for k in stand.stats.created_keys]
        assert len(keys) == len(set(keys)) == ROWS  # every record created exactly once
        assert stand.stats.duplicates > 0  # some records were written by 1C but not recorded as sent
        assert len(stand.records()) == ROWS
    assert ledger_count(ledger, outbox.outbox) == 0
    assert ledger_count(ledger, outbox.dead_letters) == 0
    assert ledger_count(ledger, outbox.delivered) == ROWS
    ledger.close()
