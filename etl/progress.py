"""Progress for long work: a rich bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("cdr1c.progress")


def interactive() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress(
    description: str, total: int | None = None, unit: str = "rows"
) -> Iterator[Callable[[int], None]]:
    """Yields `advance(n)`. On a terminal: a bar (or a counter when `total` is unknown)."""
    if interactive():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
        if total:
            columns += [TaskProgressColumn(), TimeRemainingColumn()]
        columns += [TimeElapsedColumn(), TextColumn(unit)]
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)
        return
    done = 0
    last = time.monotonic()

    def advance(n: int) -> None:
        nonlocal done, last
        done += n
        now = time.monotonic()
        if now - last >= 10:
            last = now
            of = f"/{total}" if total else ""
            log.info("%s: %d%s %s", description, done, of, unit)

    yield advance
