"""The scan's progress: a rich bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from etl.recordings.summaries import ScanSummary

log = logging.getLogger("cdr1c.recordings")


class Bar:
    """A rich progress bar on a terminal; a log line every few seconds otherwise."""

    def __init__(self, rich_bar: Any | None, estimate: int, *, quiet: bool = False) -> None:
        self.rich = rich_bar
        self.quiet = quiet
        self.task = rich_bar.add_task("recordings", total=estimate or None) if rich_bar else None
        self.done = 0
        self.last_log = time.monotonic()

    def folder(self, rel: bytes) -> None:
        if self.rich is not None:
            self.rich.update(self.task, description=f"recordings {rel.decode('utf-8', 'replace') or '.'}")

    def advance(self, n: int, s: ScanSummary) -> None:
        self.done += n
        if self.rich is not None:
            if self.rich.tasks[0].total is not None and self.done > self.rich.tasks[0].total:
                self.rich.update(self.task, total=self.done)
            self.rich.update(self.task, advance=n)
        elif not self.quiet and time.monotonic() - self.last_log >= 5:
            self.last_log = time.monotonic()
            log.info("recordings: %d files so far (%d new, %d changed)", s.found, s.new, s.changed)


@contextmanager
def progress_bar(enabled: bool | None, estimate: int) -> Iterator[Bar]:
    use_rich = enabled is True or (enabled is None and sys.stderr.isatty())
    if not use_rich:
        yield Bar(None, estimate, quiet=enabled is False)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as p:
        yield Bar(p, estimate)
