"""Small pieces every job shares: picking sources, graceful stop, the run record."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from etl.config import Settings
from etl.errors import Cdr1cError, ConfigError, ExitCode
from etl.ledger.store import Ledger

log = logging.getLogger("cdr1c")


def pick_sources(settings: Settings, only: tuple[str, ...] | list[str] = ()) -> list[str]:
    names = list(settings.sources)
    for name in only:
        if name not in settings.sources:
            raise ConfigError(f"no source named {name!r}; configured: {', '.join(names)}", "--source")
    return [n for n in names if not only or n in only]


@contextmanager
def graceful_stop(
    external: threading.Event | None = None, doing: str = "finishing the current chunk, then stopping"
) -> Iterator[threading.Event]:
    """SIGTERM / SIGINT set the event instead of killing the process: the current chunk
    finishes, its cursor is committed, and the job returns. A second signal stops at once.

    `external` is the event of whoever owns the signals (the scheduler, whose jobs run in
    worker threads where no handler can be installed): it is used as the stop event. `doing`
    is what the log says happens next."""
    stop = external if external is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("signal %d: %s", signum, doing)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def lag_text(newest_us: int | None) -> str:
    if newest_us is None:
        return "no calls yet"
    return human_seconds(max(0, int(time.time() - newest_us / 1_000_000)))


def human_seconds(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def worst(*codes: ExitCode) -> ExitCode:
    """The exit code that matters most: failures before attention before success."""
    order = [ExitCode.FAILED, ExitCode.CONFIG, ExitCode.SOURCE_UNREACHABLE, ExitCode.ONEC_UNREACHABLE,
             ExitCode.LOCKED, ExitCode.MISMATCH, ExitCode.NEEDS_ATTENTION, ExitCode.OK]  # fmt: skip
    return min(codes, key=order.index) if codes else ExitCode.OK


def run_status(code: ExitCode) -> str:
    """The `runs.status` word for an exit code."""
    return "ok" if code == ExitCode.OK else "attention" if code == ExitCode.NEEDS_ATTENTION else "failed"


class RunRecord:
    """A run in the ledger's `runs` table: the job fills `summary` and sets `code`."""

    def __init__(self, ledger: Ledger, job: str) -> None:
        self.ledger = ledger
        self.job = job
        self.id = ledger.start_run(job)
        self.summary: dict[str, Any] = {}
        self.code = ExitCode.OK
        self._started = time.monotonic()

    def finish(self, code: ExitCode) -> None:
        duration = round(time.monotonic() - self._started, 3)
        self.summary["duration_seconds"] = duration
        self.ledger.finish_run(self.id, run_status(code), int(code), self.summary)
        log_summary(self.job, code, self.summary)


@contextmanager
def recorded_run(ledger: Ledger, job: str) -> Iterator[RunRecord]:
    """Record one run of `job`: its summary, exit code and duration, in the ledger and the log.

    An exception is recorded too (as the exit code it maps to) and then propagates."""
    record = RunRecord(ledger, job)
    try:
        yield record
    except Cdr1cError as exc:
        record.summary["error"] = str(exc)
        record.finish(exc.exit_code)
        raise
    except BaseException as exc:
        record.summary["error"] = f"{type(exc).__name__}: {exc}"
        record.finish(ExitCode.FAILED)
        raise
    record.finish(record.code)


def log_summary(job: str, code: ExitCode, summary: dict[str, Any]) -> None:
    """One line per finished run: readable text, and the summary as fields in JSON logs."""
    import json

    text = json.dumps(summary, ensure_ascii=False, default=str, sort_keys=True)
    log.log(
        logging.INFO if code in (ExitCode.OK, ExitCode.NEEDS_ATTENTION) else logging.ERROR,
        "%s finished: exit %d, %s",
        job,
        int(code),
        text,
        extra={"fields": {"job": job, "exit_code": int(code), "summary": json.loads(text)}},
    )


def write_metrics_file(settings: Settings, path: Any) -> None:
    """Rewrite the Prometheus textfile from the ledger; a failure is logged, never raised
    (a metrics problem must not turn a good run into a failed one)."""
    from pathlib import Path

    from etl.metrics import write_metrics
    from etl.status import collect_status

    try:
        ledger = Ledger.open(settings.state.url)
        try:
            state = collect_status(settings, ledger)
        finally:
            ledger.close()
        write_metrics(Path(path), state)
    except Exception as exc:
        log.warning("metrics file %s not written: %s", path, exc)
