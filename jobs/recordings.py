"""The `recordings` job of `[schedule]`: scan the recordings folder and link files to calls.

`cdr1c sync` runs the same stage after each load; a separate, less frequent schedule suits
installations whose recordings arrive late (converted or copied after the call).
"""

from __future__ import annotations

import threading

from etl.config import Settings
from etl.errors import ConfigError, ExitCode
from etl.ledger.store import Ledger
from etl.locks import job_lock
from jobs import stages
from jobs.common import recorded_run, worst


def run(settings: Settings, *, stop: threading.Event | None = None) -> ExitCode:
    if settings.recordings is None:
        raise ConfigError("the recordings job needs a [recordings] section", "schedule.recordings")
    with job_lock(settings.lock_dir, "recordings"):
        ledger = Ledger.open(settings.state.url)
        try:
            with recorded_run(ledger, "recordings") as record:
                record.code = worst(
                    *stages.recordings(settings, ledger, record.summary, list(settings.sources))
                )
        finally:
            ledger.close()
    return record.code
