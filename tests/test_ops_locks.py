"""No overlapping runs: two syncs started together, SIGTERM in the middle of a sync."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.capture import load_cdr
from tests.conftest import Databases, require_fixtures
from tests.ops_helpers import cdr1c, finished_runs, row_count, wait_for, write_config
from tests.test_kill9 import many_rows, snapshot

CHUNK = 100  # the smallest chunk: many transactions, so a sync of the big source takes seconds


class Big:
    """A source big enough that a sync is still running seconds later, and its clean ledger."""

    def __init__(self, tmp: Path) -> None:
        rows = many_rows(120)  # 5,760 rows, 58 transactions
        self.total = len(rows)
        self.url = f"sqlite:///{tmp / 'big-source.sqlite'}"
        load_cdr(self.url, rows)
        clean_url = f"sqlite:///{tmp / 'clean-ledger.sqlite'}"
        assert (
            cdr1c(write_config(tmp / "clean.toml", self.url, clean_url, chunk_size=CHUNK), "sync").wait(120)
            == 0
        )
        self.rows, self.calls = snapshot(clean_url)
        assert len(self.rows) == self.total


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Big:
    require_fixtures()
    return Big(tmp_path_factory.mktemp("big"))


def test_two_syncs_started_together_one_exits_6_and_the_data_is_right(
    tmp_path: Path, databases: Databases, big: Big
) -> None:
    src, total = big.url, big.total
    shared_url = databases.url("sqlite")
    cfg = write_config(tmp_path / "shared.toml", src, shared_url, chunk_size=CHUNK)

    first, second = cdr1c(cfg, "sync"), cdr1c(cfg, "sync")
    results = [(p.wait(120), p.communicate()[1].decode()) for p in (first, second)]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 6], results
    loser_err = next(err for code, err in results if code == 6)
    winner = first if first.returncode == 0 else second
    # A clear message: which job, that it runs, who holds it, that nothing was done.
    assert re.search(r"sync of source default is already running \(pid (\d+) since .*\); nothing was done",
                     loser_err), loser_err  # fmt: skip
    assert f"pid {winner.pid} " in loser_err
    assert len(finished_runs(shared_url, "sync")) == 1  # the loser did not even start a run

    rows, calls = snapshot(shared_url)
    assert len(rows) == total
    pd.testing.assert_frame_equal(big.rows, rows)
    pd.testing.assert_frame_equal(big.calls, calls)


def test_sigterm_mid_sync_commits_the_chunk_exits_0_and_a_rerun_completes(
    tmp_path: Path, databases: Databases, big: Big
) -> None:
    total = big.total
    cut_url = databases.url("sqlite")
    cut = write_config(tmp_path / "c.toml", big.url, cut_url, chunk_size=CHUNK)

    proc = cdr1c(cut, "-v", "sync")
    wait_for(lambda: row_count(cut_url) > 0, 60, "the first committed chunk")
    proc.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    _, err = proc.communicate(timeout=60)
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    assert time.monotonic() - stopped_at < 10  # it stopped after the chunk, not after the source
    assert "signal 15: finishing the current chunk, then stopping" in stderr

    partial = row_count(cut_url)
    assert 0 < partial < total, "the sync finished before the signal: make the source bigger"
    # Not killed mid-transaction: whole chunks only (the first run has no duplicates), and the
    # run record was closed by the process itself, saying it stopped and what it committed.
    assert partial % CHUNK == 0
    (run,) = finished_runs(cut_url, "sync")
    assert run["status"] == "ok" and run["exit_code"] == 0
    assert '"stopped": true' in run["summary"]
    assert f'"new": {partial}' in run["summary"]

    assert cdr1c(cut, "sync").wait(120) == 0
    cut_rows, cut_calls = snapshot(cut_url)
    pd.testing.assert_frame_equal(big.rows, cut_rows)
    pd.testing.assert_frame_equal(big.calls, cut_calls)


def test_sync_leaves_a_stage_to_its_running_standalone_job(tmp_path: Path) -> None:
    """`cdr1c recordings` holds its lock: a sync loads its rows, does not scan beside it, says
    so in the run summary and exits 0; once the lock is free, the next sync scans."""
    from etl.config import load_settings
    from etl.ledger.store import Ledger
    from etl.ledger.tables import cdr_rows
    from etl.locks import job_lock
    from jobs import sync as sync_job

    require_fixtures()
    src = f"sqlite:///{tmp_path / 'src.sqlite'}"
    load_cdr(src, many_rows(2))
    (tmp_path / "monitor").mkdir()
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    extra = f'[recordings]\nroot = "{tmp_path / "monitor"}"\n'
    settings = load_settings(write_config(tmp_path / "c.toml", src, ledger_url, extra=extra))
    with job_lock(settings.lock_dir, "recordings"):  # as `cdr1c recordings` would
        assert sync_job.run(settings) == 0
    ledger = Ledger.open(ledger_url)
    assert ledger.count(cdr_rows) == 96
    held = ledger.last_runs(1)[0]["summary"]
    assert "recordings is already running" in held["recordings"]["skipped"]
    assert sync_job.run(settings) == 0
    free = ledger.last_runs(1)[0]["summary"]
    assert "scan" in free["recordings"] and "skipped" not in free["recordings"]
    ledger.close()
