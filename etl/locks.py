"""One lock per job and source, shared by cron-launched runs and the scheduler.

An advisory `flock` on a file in `[general] lock_dir`: the kernel drops it when the process
ends, however it ends, so a lock left by a `kill -9` never blocks the next run. The file keeps
the holder's pid and start time for the message the second run prints.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from etl.errors import LockHeld


def lock_path(lock_dir: Path, job: str, source: str | None = None) -> Path:
    name = job if source is None else f"{job}.{source}"
    return lock_dir / f"cdr1c-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"


@contextmanager
def job_lock(lock_dir: Path, job: str, source: str | None = None) -> Iterator[Path]:
    """Hold the lock of `job` (and `source`) or raise LockHeld at once."""
    path = lock_path(lock_dir, job, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            what = job if source is None else f"{job} of source {source}"
            raise LockHeld(f"{what} is already running ({holder}); nothing was done") from None
        # Write, then cut to length: a second run reading the file never sees it empty.
        mine = f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode()
        os.pwrite(fd, mine, 0)
        os.ftruncate(fd, len(mine))
        yield path
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    """Who holds the lock, from the file; the holder writes it just after taking the lock, so a
    run that lost the race by microseconds waits a moment for it rather than print nothing."""
    for _ in range(20):
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if text:
            return text
        time.sleep(0.01)
    return "another process"
