"""What every CDR source offers the sync: chunks in cursor order, a cursor, counts per day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # pandas only where rows are read: `etl.sources.window` stays light
    import pandas as pd

    from etl.sources.window import WindowQuery


class CdrSource(Protocol):
    """A readable Asterisk CDR store (a database table or a CSV file)."""

    name: str
    cursor_column: str  # what the cursor counts: calldate, start, id, addtime, or offset
    has_sequence: bool  # rows carry `sequence`, so (uniqueid, sequence) identifies them

    def read(self, cursor: str | None, lookback: timedelta, chunk_size: int) -> Iterator[pd.DataFrame]:
        """Rows from `cursor` minus the look-back window on, in cursor order, in chunks."""
        ...

    def read_window(self, since: datetime, until: datetime, chunk_size: int) -> Iterator[pd.DataFrame]:
        """Rows whose start lies in [since, until) (naive, source wall-clock), in chunks."""
        ...

    def chunk_cursor(self, chunk: pd.DataFrame) -> str | None:
        """The cursor value after `chunk` (None when the chunk says nothing new)."""
        ...

    def count_by_day(self, since: date, until: date, zone: str | None = None) -> dict[date, int]:
        """Rows per day of their start, since ≤ day ≤ until: days of `zone` (1C's, for
        `verify`), or of the source's own wall clock when `zone` is None or the same."""
        ...

    def describe(self) -> str:
        """One line for `cdr1c check`: what was found (columns, cursor, row count)."""
        ...

    def window(self) -> tuple[WindowQuery, str, str] | None:
        """How `etl.sources.window` reads the look-back window with the driver alone (the
        query, the table's and the cursor column's names); None where it cannot (a CSV file)."""
        ...

    def close(self) -> None: ...


def time_cursor(values: pd.Series) -> str | None:
    """The latest plausible wall-clock time among `values`, as a cursor value.

    Sentinels (before 1971) and times more than two days ahead of now are ignored: one row with
    an impossible date (it goes to quarantine) must not move the cursor past every real row."""
    import pandas as pd

    times = pd.to_datetime(values, errors="coerce", format="ISO8601")
    horizon = pd.Timestamp.now("UTC").tz_localize(None) + pd.Timedelta(days=2)
    times = times[(times >= pd.Timestamp("1971-01-01")) & (times <= horizon)]
    if times.empty:
        return None
    return pd.Timestamp(times.max()).to_pydatetime().isoformat(sep=" ")


def day_on_source_clock(day: date, zone: str, source_zone: str) -> tuple[datetime, datetime]:
    """[start, end) of calendar `day` in `zone` as naive wall-clock times of `source_zone`
    (what a CDR table of a PBX in `source_zone` holds)."""
    here, there = ZoneInfo(zone), ZoneInfo(source_zone)

    def clock(d: date) -> datetime:
        return datetime.combine(d, time.min, here).astimezone(there).replace(tzinfo=None)

    return clock(day), clock(day + timedelta(days=1))
