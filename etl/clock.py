"""The one "now" of the ledger: every `*_us` column holds microseconds since the epoch (UTC)."""

from __future__ import annotations

import time


def now_us() -> int:
    """Now, in whole microseconds since the epoch."""
    return time.time_ns() // 1000
