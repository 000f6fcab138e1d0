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
from etl.errors import ConfigError, ExitCode

log = logging.getLogger("cdr1c")


def pick_sources(settings: Settings, only: tuple[str, ...] | list[str] = ()) -> list[str]:
    names = list(settings.sources)
    for name in only:
        if name not in settings.sources:
            raise ConfigError(f"no source named {name!r}; configured: {', '.join(names)}", "--source")
    return [n for n in names if not only or n in only]


@contextmanager
def graceful_stop() -> Iterator[threading.Event]:
    """SIGTERM / SIGINT set the event instead of killing the process: the current chunk
    finishes, its cursor is committed, and the job returns. A second signal stops at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("signal %d: finishing the current chunk, then stopping", signum)
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
