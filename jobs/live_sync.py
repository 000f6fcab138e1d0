"""The event-driven sync of `cdr1c live`: a finished call → a sync of its source and the push.

The policy (what a finished call is, debouncing, retries) is `etl.live_sync`; this module runs
it: `LiveSync.on_event` takes every AMI event (from the client's read loop), and one worker task
starts the runs, each in a thread, one at a time. A run is an ordinary `cdr1c sync` of the one
source (`jobs.sync`: the same `job_run`, the same per-source lock as cron, the systemd timer and
`cdr1c schedule`, the same transactions and outbox), recorded in `runs` with the trigger
`ami-cdr` or `ami-hangup`; it leaves reconcile to the timer's runs (a week of 1C reads per call
would cost more than the sync). A run that finds the lock held (the timer is syncing) is tried
again after `retry`; what it did not find is looked for again until `give_up`.

`LiveSync.status` is what `/health` shows of it: the last run (when, trigger, outcome, records
delivered), the calls still waited for, the last error (redacted: no secret, no URL password).
A run that fails (an exit code other than 0 or 5, or an exception) makes the path `failing`
until a run succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from etl.ami.protocol import Message
from etl.config import Settings
from etl.errors import Cdr1cError, ExitCode, LockHeld
from etl.ledger.sql import chunked
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from etl.live_sync import CallEnds, Debouncer, Wait
from etl.secrets import redact
from jobs import sync
from jobs.common import job_run

log = logging.getLogger("cdr1c.live.sync")
TRIGGERS = {"cdr": "ami-cdr", "hangup": "ami-hangup"}
MESSAGE_LIMIT = 500  # characters of the last error /health shows


@dataclass(frozen=True)
class Outcome:
    """One run: its exit code, the waits it did not find, whether the lock was held, the
    records it delivered to 1C, what went wrong (the summary's `errors`)."""

    code: ExitCode
    missing: list[Wait]
    locked: bool = False
    delivered: int = 0
    error: str | None = None


Runner = Callable[[Settings, str, list[Wait], str, threading.Event], Outcome]


def sync_once(
    settings: Settings, source: str, waits: list[Wait], trigger: str, stop: threading.Event
) -> Outcome:
    """One sync of `source` under its job lock, then which of `waits` the ledger lacks."""
    try:
        with job_run("sync", settings, sources=[source]) as run:
            run.summary.update(trigger=trigger, sources={}, errors=[])
            run.code = sync._run(settings, run, [source], False, stop, reconcile=False)
            still = missing(run.ledger, source, waits)
            run.summary["calls_waited"] = len(waits)
            run.summary["not_found_yet"] = len(still)
    except LockHeld as exc:
        log.debug("sync of %s: %s", source, exc)
        return Outcome(ExitCode.LOCKED, list(waits), locked=True)
    push = run.summary.get("push")
    delivered = int(push.get("delivered", 0)) if isinstance(push, dict) else 0
    errors = "; ".join(str(e) for e in run.summary.get("errors") or [])
    return Outcome(run.code, still, delivered=delivered, error=errors or None)


def missing(ledger: Ledger, source: str, waits: list[Wait]) -> list[Wait]:
    """The waits whose rows are not (all) in the ledger: fewer rows of the uniqueid than `Cdr`
    events named it, or no row of the linkedid."""
    by_uid = [w for w in waits if w.kind == "cdr"]
    by_call = [w for w in waits if w.kind == "hangup"]
    found: dict[str, int] = {}
    calls: set[str] = set()
    with ledger.engine.connect() as conn:
        for part in chunked(sorted({w.key for w in by_uid})):
            stmt = (
                select(cdr_rows.c.uniqueid, func.count())
                .where(cdr_rows.c.source == source, cdr_rows.c.uniqueid.in_(part))
                .group_by(cdr_rows.c.uniqueid)
            )
            found.update({u: int(n) for u, n in conn.execute(stmt)})
        for part in chunked(sorted({w.key for w in by_call})):
            stmt = select(cdr_rows.c.linkedid).where(
                cdr_rows.c.source == source, cdr_rows.c.linkedid.in_(part)
            )
            calls.update(r for (r,) in conn.execute(stmt))
    return [w for w in by_uid if found.get(w.key, 0) < w.count] + [w for w in by_call if w.key not in calls]


class LiveSync:
    """Feed it AMI events; it runs syncs of `source` as calls finish (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        mode: str,
        debouncer: Debouncer,
        *,
        runner: Runner = sync_once,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.source = source
        self.trigger = TRIGGERS[mode]
        self.ends = CallEnds(mode)
        self.debouncer = debouncer
        self._runner = runner
        self._clock = clock
        self._wall = wall
        self._secrets = settings.secrets() if settings is not None else []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-sync")
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.runs = 0  # runs started (locked ones excluded)
        self.ends_seen = 0
        self.given_up = 0
        self.last: dict[str, Any] = {}  # the last run that started (see `status`)
        self.last_error: dict[str, str] | None = None  # {"at", "message"}, redacted
        self.failing = False  # the last run failed

    def on_event(self, msg: Message) -> None:
        end = self.ends.apply(msg)
        if end is None:
            return
        self.ends_seen += 1
        self.debouncer.add(self._clock(), end)
        if self._wake is not None:
            self._wake.set()

    def on_reconnect(self) -> None:
        """Events are not replayed after a reconnect: calls that ended meanwhile are the timer's."""
        self.ends.reset()

    def status(self) -> dict[str, Any]:
        """For `/health`: `state` idle (no run yet), ok or failing (the last run failed)."""
        return {
            "mode": self.ends.mode,
            "state": "failing" if self.failing else "ok" if self.last else "idle",
            "source": self.source,
            "waiting": self.debouncer.pending(),
            "runs": self.runs,
            "ends_seen": self.ends_seen,
            "given_up": self.given_up,
            "last_run": self.last or None,
            "last_error": self.last_error,
        }

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="live-sync")

    async def stop(self) -> None:
        """No new run; a run in progress stops after its current chunk (and skips the push)."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._pool.shutdown(wait=False)

    async def _loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            at = self.debouncer.next_at()
            now = self._clock()
            if at is None or at > now:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), None if at is None else at - now)
                self._wake.clear()
                continue
            waits = self.debouncer.take(now)
            started = self._clock()
            try:
                outcome = await loop.run_in_executor(
                    self._pool, self._runner, self.settings, self.source, waits, self.trigger, self._stop
                )
            except Exception as exc:  # a bug or an unreachable ledger: the timer still catches up
                log.error("event-driven sync of %s failed: %s", self.source, exc)
                self.given_up += len(self.debouncer.missing(self._clock(), waits))  # retried, then given up
                code = exc.exit_code if isinstance(exc, Cdr1cError) else ExitCode.FAILED
                message = str(exc) if isinstance(exc, Cdr1cError) else f"{type(exc).__name__}: {exc}"
                self._finished(Outcome(code, waits, error=message), started, len(waits))
                continue
            if outcome.locked:
                self.debouncer.postpone(self._clock())
                continue
            self.runs += 1
            self._finished(outcome, started, len(waits))
            gave_up = self.debouncer.missing(self._clock(), outcome.missing)
            self.given_up += len(gave_up)
            if gave_up:
                log.warning(
                    "%d finished calls not in source %s after %.0f s: left to the timer's sync",
                    len(gave_up), self.source, self.debouncer.give_up,
                )  # fmt: skip

    def _finished(self, outcome: Outcome, started: float, waited: int) -> None:
        """Remember a run that took place, for `status`."""
        at = datetime.fromtimestamp(self._wall(), UTC).isoformat(timespec="seconds")
        self.failing = outcome.code not in (ExitCode.OK, ExitCode.NEEDS_ATTENTION)
        self.last = {
            "at": at,
            "trigger": self.trigger,
            "outcome": "failed" if self.failing else "ok" if outcome.code == ExitCode.OK else "attention",
            "exit_code": int(outcome.code),
            "delivered": outcome.delivered,
            "seconds": round(self._clock() - started, 3),
            "waited": waited,
            "not_found_yet": len(outcome.missing),
        }
        if self.failing:
            message = outcome.error or f"exit code {int(outcome.code)}"
            self.last_error = {"at": at, "message": redact(message, self._secrets)[:MESSAGE_LIMIT]}
