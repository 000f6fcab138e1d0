"""One way to run a job (`jobs.common.job_run`): every exit path closes the ledger and records
the outcome, on each ledger back-end; the live process's backfills leak no connection."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from etl.api.jobs import BackfillJobs, Job
from etl.config import Settings, parse_settings
from etl.errors import ConfigError, ExitCode, LockHeld, StoreUnreachable
from etl.ledger.store import Ledger, sqlite_file
from etl.ledger.tables import runs
from etl.locks import job_lock
from jobs import backfill, stages
from jobs.common import job_run
from jobs.live import _backfill_runner
from tests.capture import load_cdr
from tests.conftest import Databases, require_fixtures

DAY = date(2026, 11, 25)  # a day of the capture


def settings_for(tmp_path: Path, source_url: str, ledger_url: str, **source: Any) -> Settings:
    return parse_settings(
        {
            "source": {"url": source_url, "timezone": "UTC", **source},
            "state": {"url": ledger_url},
            "general": {"lock_dir": str(tmp_path / "locks")},
        }
    )


@pytest.fixture
def source_url(databases: Databases) -> str:
    require_fixtures()
    url = databases.url("sqlite")
    load_cdr(url)
    return url


def open_connections(url: str) -> int:
    """Connections this process (or anyone, for a server) holds to the database at `url`, as the
    operating system or the server sees them: a leak shows here whatever SQLAlchemy believes."""
    path = sqlite_file(url)
    if path is not None:
        fd_dir = Path("/proc/self/fd")
        return sum(1 for fd in fd_dir.iterdir() if _target(fd) == str(path.resolve()))
    name = make_url(url).database
    backend = make_url(url).get_backend_name()
    if backend == "mysql":
        admin = "mysql+pymysql://root@127.0.0.1:3306/"
        query = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = :n"
    else:
        admin = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        query = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = :n"
    engine = create_engine(admin)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(query), {"n": name}).scalar_one())
    finally:
        engine.dispose()


def _target(fd: Path) -> str | None:
    try:
        return os.readlink(fd)
    except OSError:  # closed between listing and reading
        return None


def run_statuses(ledger_url: str, job: str) -> list[tuple[str, int | None]]:
    ledger = Ledger.open(ledger_url)
    try:
        with ledger.engine.connect() as conn:
            rows = conn.execute(select(runs.c.status, runs.c.exit_code).where(runs.c.job == job))
            return [(r[0], r[1]) for r in rows]
    finally:
        ledger.close()


def test_backfill_meeting_a_held_lock_opens_nothing_and_leaves_no_run_running(
    tmp_path: Path, source_url: str, ledger_url: str
) -> None:
    settings = settings_for(tmp_path, source_url, ledger_url)
    with job_lock(settings.lock_dir, "backfill", "default"), pytest.raises(LockHeld):
        backfill.run(settings, since=DAY, until=DAY)
    assert open_connections(ledger_url) == 0
    # nothing was done, so nothing is recorded: a refused run never hides the holder's outcome
    assert run_statuses(ledger_url, "backfill") == []


def test_backfill_with_a_bad_source_config_is_recorded_as_failed(
    tmp_path: Path, source_url: str, ledger_url: str
) -> None:
    settings = settings_for(tmp_path, source_url, ledger_url, table="no_such_table")
    with pytest.raises(ConfigError, match="no_such_table"):
        backfill.run(settings, since=DAY, until=DAY)
    assert run_statuses(ledger_url, "backfill") == [("failed", int(ExitCode.CONFIG))]
    assert open_connections(ledger_url) == 0
    assert open_connections(source_url) == 0


def test_backfill_failing_mid_run_is_recorded_as_failed(
    tmp_path: Path, source_url: str, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_push(*_: Any, **__: Any) -> list[ExitCode]:
        raise RuntimeError("a bug in a stage")

    monkeypatch.setattr(stages, "push", broken_push)
    settings = settings_for(tmp_path, source_url, ledger_url)
    with pytest.raises(RuntimeError, match="a bug in a stage"):
        backfill.run(settings, since=DAY, until=DAY)
    assert run_statuses(ledger_url, "backfill") == [("failed", int(ExitCode.FAILED))]
    assert open_connections(ledger_url) == 0
    assert open_connections(source_url) == 0


def test_sigterm_ends_a_job_through_its_finally(tmp_path: Path, ledger_url: str) -> None:
    """SIGTERM inside a job raises KeyboardInterrupt there: the run is recorded, the ledger closed."""
    settings = settings_for(tmp_path, "sqlite:///unused.sqlite", ledger_url)
    with pytest.raises(KeyboardInterrupt), job_run("prune", settings):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the handler raises at the next bytecode
            time.sleep(0.01)
    assert run_statuses(ledger_url, "prune") == [("failed", int(ExitCode.FAILED))]
    assert open_connections(ledger_url) == 0
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the previous handler is back


def test_live_process_holds_no_more_connections_after_20_failing_backfills(
    tmp_path: Path, source_url: str, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's backfill runner, in this process: one failure and twenty leave the same count."""

    def broken_push(*_: Any, **__: Any) -> list[ExitCode]:
        raise RuntimeError("a bug in a stage")

    monkeypatch.setattr(stages, "push", broken_push)
    settings = settings_for(tmp_path, source_url, ledger_url)

    async def backfills(n: int, jobs: BackfillJobs) -> list[Job]:
        done = []
        for _ in range(n):
            job = jobs.start(DAY, DAY)
            deadline = time.monotonic() + 60
            while job.finished is None and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            done.append(job)
        return done

    def connections() -> int:
        return open_connections(ledger_url) + open_connections(source_url)

    jobs = BackfillJobs(_backfill_runner(settings))
    try:
        first = asyncio.run(backfills(1, jobs))
        after_one = connections()
        rest = asyncio.run(backfills(19, jobs))
        after_twenty = connections()
    finally:
        jobs.shutdown()
    assert [j.status for j in first + rest] == ["failed"] * 20
    assert all(j.error == "RuntimeError: a bug in a stage" for j in first + rest)
    assert after_twenty <= after_one == 0
    assert run_statuses(ledger_url, "backfill") == [("failed", int(ExitCode.FAILED))] * 20


def test_unreachable_state_store_has_its_own_error(tmp_path: Path) -> None:
    url = "postgresql://cdr1c:s3cret@127.0.0.1:1/ledger"
    with pytest.raises(StoreUnreachable) as caught:
        Ledger.open(url)
    message = str(caught.value)
    assert message.startswith("the state store at postgresql://cdr1c:***@127.0.0.1:1/ledger is unreachable: ")
    assert "s3cret" not in message
    assert caught.value.exit_code == ExitCode.SOURCE_UNREACHABLE == 3


def test_cli_names_an_unreachable_state_store_and_exits_3(tmp_path: Path, source_url: str) -> None:
    from tests.ops_helpers import run_cdr1c, write_config

    config = write_config(tmp_path / "cdr1c.toml", source_url, "postgresql://cdr1c:s3cret@127.0.0.1:1/ledger")
    code, _, err = run_cdr1c(config, "sync")
    assert code == 3
    assert "error: the state store at postgresql://cdr1c:***@127.0.0.1:1/ledger is unreachable: " in err
    assert "s3cret" not in err


def test_a_ledger_lost_mid_run_leaves_the_jobs_own_error(
    tmp_path: Path, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the outcome cannot be written any more, the job's exception is what the caller sees."""
    from sqlalchemy.exc import OperationalError

    def lost(*_: Any, **__: Any) -> None:
        raise OperationalError("UPDATE runs", {}, Exception("server has gone away"))

    ledger_url = databases.url("sqlite")
    settings = settings_for(tmp_path, "sqlite:///unused.sqlite", ledger_url)
    monkeypatch.setattr(Ledger, "finish_run", lost)
    with pytest.raises(RuntimeError, match="the job's own"), job_run("report", settings):
        raise RuntimeError("the job's own")
    assert open_connections(ledger_url) == 0
