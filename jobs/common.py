"""Small pieces every job shares: picking sources, graceful stop, the one way to run a job."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from etl.clock import now_us
from etl.config import Settings
from etl.errors import Cdr1cError, ConfigError, ExitCode, StoreUnreachable
from etl.locks import job_lock

if TYPE_CHECKING:  # SQLAlchemy and the ledger load when a job opens it, not with the CLI
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
    return human_seconds(max(0, (now_us() - newest_us) // 1_000_000))


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
    """A run in the ledger's `runs` table: the job fills `summary` and sets `code`.

    With `record=False` (a dry run) nothing is written: `id` is None and `finish` does nothing."""

    def __init__(self, ledger: Ledger, job: str, *, record: bool = True) -> None:
        self.ledger = ledger
        self.job = job
        self.id = ledger.start_run(job) if record else None
        self.summary: dict[str, Any] = {}
        self.code = ExitCode.OK
        self._started = time.monotonic()

    def finish(self, code: ExitCode) -> None:
        if self.id is None:
            return
        duration = round(time.monotonic() - self._started, 3)
        self.summary["duration_seconds"] = duration
        self.ledger.finish_run(self.id, run_status(code), int(code), self.summary)
        log_summary(self.job, code, self.summary)

    def failed(self, exc: BaseException) -> None:
        """Record the exception that ends the run; a ledger that cannot take it any more is
        logged, so the original exception is the one that propagates."""
        from sqlalchemy.exc import SQLAlchemyError

        self.summary["error"] = str(exc) if isinstance(exc, Cdr1cError) else f"{type(exc).__name__}: {exc}"
        try:
            self.finish(exc.exit_code if isinstance(exc, Cdr1cError) else ExitCode.FAILED)
        except (SQLAlchemyError, StoreUnreachable) as lost:
            log.error("%s run %s not recorded as failed: %s", self.job, self.id, lost)


@contextmanager
def recorded_run(ledger: Ledger, job: str, *, record: bool = True) -> Iterator[RunRecord]:
    """Record one run of `job`: its summary, exit code and duration, in the ledger and the log.

    An exception is recorded too (as the exit code it maps to) and then propagates."""
    run = RunRecord(ledger, job, record=record)
    try:
        yield run
    except BaseException as exc:
        run.failed(exc)
        raise
    run.finish(run.code)


@contextmanager
def job_run(
    job: str, settings: Settings, *, sources: Sequence[str] = (), record: bool = True, existing: bool = False
) -> Iterator[RunRecord]:
    """The one way to run a job: take its locks, open the ledger, record the run; on every way
    out (success, a Cdr1cError, a bug, SIGTERM) record the outcome and close the ledger.

    Locks come first and all at once: one per source when `sources` are given (sync, backfill),
    else one for the job. A held lock raises LockHeld before the ledger is opened, so a refused
    run does nothing and records nothing (docs/architecture.md, "Running a job").
    `record=False` (a dry run) opens the ledger but writes no run; `existing=True` (a command
    that only reads it) creates no ledger: LedgerMissing (exit 8) when none is there."""
    from etl.ledger.store import Ledger

    with ExitStack() as stack:
        stack.enter_context(sigterm_raises())
        locks: list[str | None] = [*sources] or [None]
        for source in locks:
            stack.enter_context(job_lock(settings.lock_dir, job, source))
        ledger = (Ledger.open_existing if existing else Ledger.open)(settings.state.url)
        stack.callback(ledger.close)
        yield stack.enter_context(recorded_run(ledger, job, record=record))


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt where the job is, so its `finally` blocks run (Python's
    default ends the process on the spot). Only the main thread owns signals: elsewhere (the
    scheduler's workers, the live process's backfill thread) the owner's stop event applies."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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

    from etl.ledger.store import Ledger
    from etl.metrics import write_metrics
    from etl.status import collect_status

    try:
        ledger = Ledger.open_existing(settings.state.url)  # a metrics file creates no ledger
        try:
            state = collect_status(settings, ledger)
        finally:
            ledger.close()
        write_metrics(Path(path), state)
    except Exception as exc:
        log.warning("metrics file %s not written: %s", path, exc)
