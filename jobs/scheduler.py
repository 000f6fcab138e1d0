"""`cdr1c schedule`: the jobs of `[schedule]` on APScheduler 3.x, until SIGTERM or Ctrl-C.

- Each job runs the same function as its CLI verb, so it takes the same lock (`job_lock`) as
  a cron-launched run: the scheduler and cron never run one job twice at once. A run that
  finds the lock held is skipped with a warning; the next trigger tries again.
- One instance per job (`max_instances=1`); runs missed while the previous one was busy or the
  host was asleep are coalesced into one, if no later than `misfire_grace`.
- A job that fails is logged (with its exit code) and the scheduler goes on.
- SIGTERM / SIGINT: no new run starts; the running sync finishes its current chunk, commits
  it and its cursor, and the process exits 0. A second signal stops at once.
- With `--metrics-file`, the Prometheus textfile is rewritten after every run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from etl.config import Settings, schedule_interval
from etl.errors import Cdr1cError, ConfigError, ExitCode, LockHeld
from jobs.common import graceful_stop, write_metrics_file

log = logging.getLogger("cdr1c.schedule")

JobFn = Callable[[Settings, threading.Event], ExitCode | int | None]


def _sync(settings: Settings, stop: threading.Event) -> ExitCode:
    import jobs.sync

    return jobs.sync.run(settings, stop=stop)


def _recordings(settings: Settings, stop: threading.Event) -> ExitCode:
    import jobs.recordings

    return jobs.recordings.run(settings, stop=stop)


def _reconcile(settings: Settings, stop: threading.Event) -> ExitCode:
    import jobs.reconcile

    return jobs.reconcile.run(settings)


def _report(settings: Settings, stop: threading.Event) -> ExitCode | int | None:
    try:
        import jobs.report as report  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        log.error("report: this build has no report job (%s); skipped", exc)
        return ExitCode.FAILED
    result: ExitCode | int | None = report.run(settings)
    return result


def _verify(settings: Settings, stop: threading.Event) -> ExitCode:
    import jobs.verify

    return jobs.verify.run(settings)


def _prune(settings: Settings, stop: threading.Event) -> ExitCode:
    import jobs.prune

    return jobs.prune.run(settings)


JOBS: dict[str, JobFn] = {
    "sync": _sync,
    "recordings": _recordings,
    "reconcile": _reconcile,
    "report": _report,
    "verify": _verify,
    "prune": _prune,
}


def trigger_for(expr: str, timezone: str) -> BaseTrigger:
    """`"every 30s"` → an interval; anything else is a five-field crontab line."""
    interval = schedule_interval(expr)
    if interval is not None:
        return IntervalTrigger(seconds=interval.total_seconds(), timezone=timezone)
    return CronTrigger.from_crontab(expr, timezone=timezone)


class Runner:
    """Runs one scheduled job by name. Never raises: the outcome is logged and kept."""

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event,
        *,
        metrics_file: Path | None = None,
        registry: Mapping[str, JobFn] = JOBS,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self.metrics_file = metrics_file
        self.registry = registry
        self.outcomes: list[tuple[str, ExitCode]] = []  # (job, exit code), in finishing order

    def __call__(self, name: str) -> ExitCode:
        if self.stop.is_set():
            log.info("%s not started: stopping", name)
            return ExitCode.OK
        log.info("%s started", name)
        try:
            code = ExitCode(int(self.registry[name](self.settings, self.stop) or 0))
        except LockHeld as exc:
            log.warning("%s skipped: %s", name, exc)
            code = ExitCode.LOCKED
        except Cdr1cError as exc:
            log.error("%s failed (exit %d): %s", name, int(exc.exit_code), exc)
            code = exc.exit_code
        except Exception:
            log.exception("%s failed with an unexpected error", name)
            code = ExitCode.FAILED
        else:
            level = logging.INFO if code in (ExitCode.OK, ExitCode.NEEDS_ATTENTION) else logging.ERROR
            log.log(level, "%s done: exit %d", name, int(code))
        self.outcomes.append((name, code))
        if self.metrics_file is not None:
            write_metrics_file(self.settings, self.metrics_file)
        return code


def build_scheduler(settings: Settings, runner: Runner) -> BackgroundScheduler:
    """A scheduler (not started) with one job per `[schedule]` entry."""
    if settings.schedule is None or not settings.schedule.jobs:
        raise ConfigError('no jobs to run: add e.g. sync = "*/5 * * * *" to [schedule]', "schedule")
    sched = settings.schedule
    grace = max(1, int(sched.misfire_grace.total_seconds()))
    scheduler = BackgroundScheduler(
        timezone=sched.timezone,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": grace},
    )
    for name, expr in sched.jobs.items():
        scheduler.add_job(
            runner,
            trigger_for(expr, sched.timezone),
            args=[name],
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=grace,
        )

    def missed(event: JobExecutionEvent) -> None:
        log.warning("%s: the run due at %s was missed (more than misfire_grace late)",
                    event.job_id, event.scheduled_run_time)  # fmt: skip

    scheduler.add_listener(missed, EVENT_JOB_MISSED)
    return scheduler


def run(
    settings: Settings, *, metrics_file: Path | None = None, stop: threading.Event | None = None
) -> ExitCode:
    """Run until SIGTERM / SIGINT (or `stop` is set); the running job finishes its chunk first."""
    with graceful_stop(stop) as stopping:
        runner = Runner(settings, stopping, metrics_file=metrics_file)
        scheduler = build_scheduler(settings, runner)
        scheduler.start()
        for job in scheduler.get_jobs():
            log.info("scheduled %s (%s), next run %s", job.id, job.trigger, _when(job.next_run_time))
        while not stopping.wait(0.5):
            pass
        log.info("stopping: no new runs; waiting for the running job to commit its chunk")
        scheduler.shutdown(wait=True)
    log.info("stopped")
    return ExitCode.OK


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)
