"""Calendar days in a time zone as UTC microsecond bounds (pure; shared by the 1C jobs and the reports)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def day_bounds_us(since: date, until: date, zone: ZoneInfo) -> tuple[int, int]:
    """[since 00:00, until+1 00:00) in `zone`, as UTC microseconds."""
    lo = datetime.combine(since, time(), zone)
    hi = datetime.combine(until + timedelta(days=1), time(), zone)
    return int(lo.timestamp() * 1e6), int(hi.timestamp() * 1e6)
