"""`kill -9` of a push at random moments, each followed by a re-run: every record exactly once.

The kills land where the test sees them land, whatever the machine's speed: the stand-in holds
its answer to the create that brings 1C to a number of records drawn at random for the round
(and to every create after it), the test kills the push while 1C has written the records but
the push has not heard back, then lets the held answers go to the dead connection."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from etl.ledger.store import Ledger
from etl.onec import outbox
from etl.sandbox.standin import EntitySet, Faults, StandIn
from tests.onec_helpers import cdr_row, insert_rows, ledger_count

CHILD = Path(__file__).with_name("onec_push_child.py")
ROWS = 400
KILLS = 10
MOST_PER_ROUND = 30  # KILLS × (this + the concurrency still in flight) stays below ROWS
WAIT = 120.0  # seconds: only a broken push takes this long to reach a round's count


class Hold:
    """Hold 1C's answers once it has created `at` records, until `release` is set."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.reached = threading.Event()
        self.release = threading.Event()


def hold_creates(stand: StandIn, monkeypatch: pytest.MonkeyPatch) -> list[Hold]:
    """Make the stand-in's creates wait, after writing, on the `Hold` that was last in the
    returned list when their connection opened: a request of a push killed in an earlier
    round, still being served, never counts for (or stops at) a later round's hold."""
    holds = [Hold(at=0)]
    holds[0].release.set()
    connection = threading.local()  # the stand-in serves each connection on its own thread
    serve, create = stand._server.finish_request, stand.create

    def finish_request(request: Any, client_address: Any) -> None:
        connection.hold = holds[-1]
        serve(request, client_address)

    def held_create(es: EntitySet, body: Mapping[str, Any]) -> dict[str, Any]:
        row = create(es, body)  # 1C has written the record; the answer is not sent yet
        hold: Hold = connection.hold
        if stand.stats.creates >= hold.at:
            hold.reached.set()
            hold.release.wait(WAIT)
        return row

    monkeypatch.setattr(stand._server, "finish_request", finish_request)
    monkeypatch.setattr(stand, "create", held_create)
    return holds


def test_kill_9_at_random_moments_then_rerun(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20261125)
    ledger = Ledger.open(ledger_url)
    rows = [cdr_row(uniqueid=f"1795650{i:03}.{i}", cnam="Смирнова Ольга") for i in range(ROWS)]
    insert_rows(ledger, rows)
    with StandIn(faults=Faults(latency=0.02)) as stand:
        holds = hold_creates(stand, monkeypatch)
        for _ in range(KILLS):
            hold = Hold(at=stand.stats.creates + rng.randint(1, MOST_PER_ROUND))
            holds.append(hold)
            requests_before = stand.stats.requests
            proc = subprocess.Popen(
                [sys.executable, str(CHILD), stand.url, ledger_url],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                while not hold.reached.wait(0.05):
                    assert proc.poll() is None, f"the push ended before 1C held {hold.at} records"
                os.kill(proc.pid, signal.SIGKILL)
                assert proc.wait() == -signal.SIGKILL  # killed, not finished
            finally:
                hold.release.set()  # the held answers go to a dead connection
            # the kill landed in the middle of a push: it had talked to 1C, and work is left
            assert stand.stats.requests > requests_before
            assert ledger_count(ledger, outbox.outbox) > 0
        final = subprocess.run(
            [sys.executable, str(CHILD), stand.url, ledger_url],
            capture_output=True,
            text=True,
            timeout=WAIT,
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
