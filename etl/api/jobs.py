"""Background backfills started over HTTP, followed by id."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

BackfillRunner = Callable[[date, date], int]


@dataclass
class Job:
    id: str
    since: str
    until: str
    status: str = "queued"  # queued | running | done | failed
    exit_code: int | None = None
    error: str | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class BackfillJobs:
    """Runs one backfill at a time in a worker thread; keeps the last `keep` jobs."""

    def __init__(self, runner: BackfillRunner, keep: int = 100) -> None:
        self.runner = runner
        self.keep = keep
        self.jobs: dict[str, Job] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill")

    def start(self, since: date, until: date) -> Job:
        job = Job(
            id=secrets.token_hex(8),
            since=since.isoformat(),
            until=until.isoformat(),
            created=time.time(),
        )
        self.jobs[job.id] = job
        while len(self.jobs) > self.keep:
            self.jobs.pop(next(iter(self.jobs)))
        loop = asyncio.get_running_loop()
        loop.run_in_executor(self._executor, self._run, job, since, until)
        return job

    def _run(self, job: Job, since: date, until: date) -> None:
        job.status, job.started = "running", time.time()
        try:
            job.exit_code = int(self.runner(since, until))
            job.status = "done" if job.exit_code == 0 else "failed"
        except Exception as exc:  # the job's own failure is reported, not raised into the server
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
