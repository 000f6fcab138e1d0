"""`cdr1c schedule`: jobs on a short schedule, one instance each, failures logged, clean stop."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from prometheus_client.parser import text_string_to_metric_families

from etl.config import ScheduleSettings, load_settings, parse_settings, schedule_interval
from etl.errors import ConfigError, ExitCode
from etl.locks import job_lock
from jobs.scheduler import Runner, build_scheduler
from tests.capture import load_cdr
from tests.conftest import Databases, require_fixtures
from tests.ops_helpers import cdr1c, finished_runs, row_count, wait_for, write_config
from tests.test_kill9 import WAIT, many_rows


def test_schedule_runs_sync_every_second_and_stops_cleanly_on_sigterm(
    tmp_path: Path, databases: Databases
) -> None:
    require_fixtures()
    rows = many_rows(60)  # 2,880 rows: the second run is still going when SIGTERM comes
    src, ledger_url = databases.url("sqlite"), databases.url("sqlite")
    load_cdr(src, rows)
    cfg = write_config(
        tmp_path / "c.toml", src, ledger_url, '[schedule]\nsync = "every 1s"\n', chunk_size=100
    )
    metrics = tmp_path / "m.prom"
    proc = cdr1c(cfg, "--metrics-file", str(metrics), "schedule")
    try:
        wait_for(lambda: len(finished_runs(ledger_url, "sync")) >= 1, WAIT, "the first scheduled sync")
        assert row_count(ledger_url) == len(rows)
        wait_for(lambda: len(finished_runs(ledger_url, "sync")) >= 2, WAIT, "a second scheduled sync")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=WAIT)
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    assert "scheduled sync (interval[0:00:01])" in stderr
    assert "stopping: no new runs" in stderr and stderr.rstrip().endswith("stopped")
    runs = finished_runs(ledger_url, "sync")
    assert all(r["exit_code"] == 0 and r["status"] == "ok" for r in runs)
    assert row_count(ledger_url) == len(rows)  # later runs added nothing twice
    families = {f.name: f for f in text_string_to_metric_families(metrics.read_text())}
    (sample,) = families["cdr1c_last_exit_code"].samples
    assert sample.labels == {"job": "sync"} and sample.value == 0


def test_sigterm_while_a_scheduled_sync_runs_commits_its_chunk_and_exits_0(
    tmp_path: Path, databases: Databases
) -> None:
    require_fixtures()
    rows = many_rows(120)
    src, ledger_url = databases.url("sqlite"), databases.url("sqlite")
    load_cdr(src, rows)
    cfg = write_config(
        tmp_path / "c.toml", src, ledger_url, '[schedule]\nsync = "every 1s"\n', chunk_size=100
    )
    proc = cdr1c(cfg, "schedule")
    wait_for(lambda: row_count(ledger_url) > 0, WAIT, "the first chunk of the scheduled sync")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err.decode()
    partial = row_count(ledger_url)
    assert 0 < partial < len(rows)
    assert partial % 100 == 0  # whole chunks: the job saw the stop between chunks, not mid-transaction
    (run,) = finished_runs(ledger_url, "sync")
    assert '"stopped": true' in run["summary"] and run["exit_code"] == 0


def _settings(tmp_path: Path, jobs: dict[str, str], grace: str = "7s"):  # type: ignore[no-untyped-def]
    lines = "".join(f'{k} = "{v}"\n' for k, v in jobs.items())
    cfg = write_config(
        tmp_path / "s.toml",
        f"sqlite:///{tmp_path / 'src.sqlite'}",
        f"sqlite:///{tmp_path / 'l.sqlite'}",
        f'[schedule]\n{lines}misfire_grace = "{grace}"\ntimezone = "UTC"\n',
    )
    return load_settings(cfg)


def test_one_instance_per_job_failures_logged_and_the_scheduler_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first sync runs until the test has seen its trigger fire again and be refused
    (APScheduler's "maximum number of running instances" event) and verify fail three times
    meanwhile; then it ends and the next trigger starts a second sync."""
    settings = _settings(tmp_path, {"sync": "every 1s", "verify": "every 1s"})
    running, most = 0, 0
    guard = threading.Lock()
    release, refused = threading.Event(), threading.Event()

    def slow_sync(_settings, stop):  # type: ignore[no-untyped-def]
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        release.wait(WAIT)  # runs across triggers: the next one must not start a second sync
        with guard:
            running -= 1
        return ExitCode.OK

    def failing_verify(_settings, _stop):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    def outcomes(name: str) -> list[ExitCode]:
        return [c for n, c in list(runner.outcomes) if n == name]

    stop = threading.Event()
    runner = Runner(settings, stop, registry={"sync": slow_sync, "verify": failing_verify})
    scheduler = build_scheduler(settings, runner)
    job = scheduler.get_job("sync")
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 7)
    scheduler.add_listener(lambda e: e.job_id == "sync" and refused.set(), EVENT_JOB_MAX_INSTANCES)
    scheduler.start()
    try:
        wait_for(refused.is_set, WAIT, "a sync trigger while the first sync runs")
        wait_for(lambda: len(outcomes("verify")) >= 3, WAIT, "three verify runs")
        assert outcomes("sync") == []  # the first sync is still running
        release.set()
        wait_for(lambda: len(outcomes("sync")) >= 2, WAIT, "a second sync after the first")
    finally:
        release.set()
        stop.set()
        scheduler.shutdown(wait=True)
    assert most == 1  # never two syncs at once
    verify_codes = outcomes("verify")
    assert len(verify_codes) >= 3 and set(verify_codes) == {ExitCode.FAILED}  # it failed, and went on
    assert set(outcomes("sync")) == {ExitCode.OK}
    assert "verify failed with an unexpected error" in caplog.text and "boom" in caplog.text


def test_a_run_that_finds_the_lock_held_is_skipped_with_exit_6(tmp_path: Path) -> None:
    require_fixtures()
    load_cdr(f"sqlite:///{tmp_path / 'src.sqlite'}")
    settings = _settings(tmp_path, {"sync": "*/5 * * * *"})
    runner = Runner(settings, threading.Event())
    with job_lock(settings.lock_dir, "sync", "default"):  # a cron-launched `cdr1c sync` runs
        assert runner("sync") == ExitCode.LOCKED
    assert runner("sync") == ExitCode.OK


def test_schedule_expressions() -> None:
    assert schedule_interval("every 2s").total_seconds() == 2  # type: ignore[union-attr]
    assert schedule_interval("every 15m").total_seconds() == 900  # type: ignore[union-attr]
    assert schedule_interval("*/5 * * * *") is None
    base = {"source": {"url": "sqlite:///x.sqlite"}}
    s = parse_settings({**base, "schedule": {"sync": "every 30s", "report": "15 6 * * *"}})
    assert isinstance(s.schedule, ScheduleSettings)
    assert s.schedule.jobs == {"sync": "every 30s", "report": "15 6 * * *"}
    for bad in ("every banana", "every 0s", "61 * * * *", "* * *"):
        with pytest.raises(ConfigError, match=r"schedule\.sync: not a cron expression"):
            parse_settings({**base, "schedule": {"sync": bad}})
    with pytest.raises(ConfigError, match="no jobs to run"):
        build_scheduler(parse_settings({**base, "schedule": {}}), Runner(s, threading.Event()))
