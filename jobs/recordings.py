"""`cdr1c recordings` and the `recordings` job of `[schedule]`: scan the recordings folder and
link files to calls (what changed since the last link; everything with `--full`).

`cdr1c sync` runs the same stage after each load; a separate, less frequent schedule suits
installations whose recordings arrive late (converted or copied after the call).
"""

from __future__ import annotations

import threading

from etl.config import Settings
from etl.errors import ConfigError, ExitCode
from jobs import stages
from jobs.common import job_run, worst


def run(settings: Settings, *, stop: threading.Event | None = None, full: bool = False) -> ExitCode:
    """`full`: relink every CDR row of every source (`cdr1c recordings --full`), not only the
    calls that changed since the last link."""
    if settings.recordings is None:
        raise ConfigError("the recordings job needs a [recordings] section", "schedule.recordings")
    with job_run("recordings", settings) as run:
        sources = list(settings.sources)
        run.code = worst(*stages.recordings(settings, run.ledger, run.summary, sources, full=full))
    return run.code
