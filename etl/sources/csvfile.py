"""CDR from cdr_csv's Master.csv or a cdr_custom file.

The file only grows, in the order Asterisk dispatched the rows, so the cursor is the byte
offset after the last complete record plus the file's inode: a rotated or truncated file is
read again from the start (row identities make the re-read harmless). Fields are decoded one
by one (UTF-8, else the fallback encoding), because a cp1251 caller name must not spoil the
rest of its line; a bare CR inside a quoted field stays in the value (asterisk22-ami-wire
README, injection inj4), only LF ends a line.

cdr_csv columns (docs/reference/asterisk.md §1.3): accountcode, src, dst, dcontext, clid, channel, dstchannel,
lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags, then optional
uniqueid (loguniqueid), userfield (loguserfield), then peeraccount, linkedid, sequence
(newcdrcolumns). With 17 or 20 columns the optional one is told apart by its value (a uniqueid
looks like `<epoch>.<n>`); declare `csv_columns` to be explicit. cdr_custom files need
`csv_columns`.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from etl.config import SourceSettings
from etl.errors import ConfigError, SourceUnreachable
from etl.normalise import decode_bytes, to_utc_us
from etl.sources.base import day_on_source_clock

BASE = [
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
]  # fmt: skip
NEW_COLUMNS = ["peeraccount", "linkedid", "sequence"]
_UNIQUEID = re.compile(r"^([\w.\-]+-)?\d{9,11}\.\d+$")
READ_BLOCK = 1 << 20


def cdr_csv_columns(count: int, sample: list[str] | None = None) -> list[str]:
    """The column list of a cdr_csv file with `count` fields per line."""
    if count == 16:
        return list(BASE)
    if count in (17, 20):
        looks_like_uniqueid = bool(sample) and bool(_UNIQUEID.match(sample[16] if sample else ""))
        middle = ["uniqueid"] if looks_like_uniqueid else ["userfield"]
        return BASE + middle + (NEW_COLUMNS if count == 20 else [])
    if count == 18:
        return [*BASE, "uniqueid", "userfield"]
    if count == 19:
        return BASE + NEW_COLUMNS
    if count == 21:
        return [*BASE, "uniqueid", "userfield", *NEW_COLUMNS]
    raise ValueError(f"{count} fields per line is not a cdr_csv layout; set csv_columns")


class CsvSource:
    cursor_column = "offset"

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.path = Path(settings.url[len("csv://") :])
        if not self.path.is_file():
            raise SourceUnreachable(f"source {self.name}: {self.path} is not a readable file")
        self.declared = list(settings.csv_columns) or None
        if self.declared and not ({"calldate", "start"} & set(self.declared)):
            raise ConfigError("csv_columns needs start (or calldate)", f"source.{self.name}.csv_columns")
        self.columns = self.declared or self._detect()
        self.has_sequence = "sequence" in self.columns and settings.identity == "auto"

    def _detect(self) -> list[str]:
        for fields, _ in self._records(0):
            return cdr_csv_columns(len(fields), [f.decode("latin-1") for f in fields])
        return list(BASE)

    def _records(self, offset: int) -> Iterator[tuple[list[bytes], int]]:
        """(fields as raw bytes, byte offset after the record) from `offset` on. A last line
        without its newline is still being written and is left for the next run."""
        try:
            fh = self.path.open("rb")
        except OSError as exc:
            raise SourceUnreachable(f"source {self.name}: {exc}") from None
        with fh:
            fh.seek(offset)
            pos = offset
            pending: list[str] = []
            pending_len = 0
            buf = b""
            while True:
                block = fh.read(READ_BLOCK)
                if not block:
                    break
                buf += block
                lines = buf.split(b"\n")
                buf = lines.pop()
                for line in lines:
                    # latin-1 maps bytes 1:1 to characters, so the csv module can split the
                    # line and each field's bytes come back exactly
                    pending.append(line.decode("latin-1") + "\n")
                    pending_len += len(line) + 1
                    text = "".join(pending)
                    if text.count('"') % 2:  # a quoted field goes on past this newline
                        continue
                    pending.clear()
                    pos += pending_len
                    pending_len = 0
                    stripped = text.rstrip("\n").rstrip("\r") if text.endswith("\r\n") else text.rstrip("\n")
                    if not stripped:
                        continue
                    row = next(csv.reader([stripped], strict=False))
                    yield [f.encode("latin-1") for f in row], pos

    def _frame(self, batch: list[tuple[list[bytes], int]]) -> pd.DataFrame:
        width = len(self.columns)
        fallback = self.settings.encoding_fallback
        data: list[list[object]] = []
        for fields, end in batch:
            values: list[object] = [decode_bytes(f, fallback) if f else "" for f in fields[:width]]
            if len(fields) != width:
                values = values + [""] * (width - len(values))
                values.append(f"expected {width} fields, found {len(fields)}")
            else:
                values.append("")
            values.append(end)
            data.append(values)
        frame = pd.DataFrame(data, columns=[*self.columns, "_bad", "_offset"])
        for col in ("start", "answer", "end", "calldate"):
            if col in frame.columns:
                frame[col] = frame[col].replace("", None)
        return frame

    def _start_offset(self, cursor: str | None) -> int:
        if not cursor:
            return 0
        try:
            inode, offset = (int(x) for x in cursor.split(":", 1))
        except ValueError:
            return 0
        st = os.stat(self.path)
        if st.st_ino != inode or st.st_size < offset:
            return 0  # rotated or truncated: read it all again
        return offset

    def read(self, cursor: str | None, lookback: timedelta, chunk_size: int) -> Iterator[pd.DataFrame]:
        batch: list[tuple[list[bytes], int]] = []
        for rec in self._records(self._start_offset(cursor)):
            batch.append(rec)
            if len(batch) >= chunk_size:
                yield self._frame(batch)
                batch = []
        if batch:
            yield self._frame(batch)

    def read_window(self, since: datetime, until: datetime, chunk_size: int) -> Iterator[pd.DataFrame]:
        time_col = "calldate" if "calldate" in self.columns else "start"
        for frame in self.read(None, timedelta(0), chunk_size):
            t = pd.to_datetime(frame[time_col], errors="coerce", format="ISO8601")
            keep = (t >= since) & (t < until)
            if keep.any():
                yield frame[keep]

    def chunk_cursor(self, chunk: pd.DataFrame) -> str | None:
        if chunk.empty:
            return None
        return f"{os.stat(self.path).st_ino}:{int(chunk['_offset'].max())}"

    def count_by_day(self, since: date, until: date, zone: str | None = None) -> dict[date, int]:
        own = self.settings.timezone
        zone = zone if zone != own else None
        if zone is not None:
            lo, hi = day_on_source_clock(since, zone, own)[0], day_on_source_clock(until, zone, own)[1]
        else:
            lo = datetime.combine(since, datetime.min.time())
            hi = datetime.combine(until + timedelta(days=1), datetime.min.time())
        out: dict[date, int] = {}
        for frame in self.read_window(lo, hi, 50_000):
            time_col = "calldate" if "calldate" in frame.columns else "start"
            times = pd.to_datetime(frame[time_col], errors="coerce", format="ISO8601")
            if zone is not None:  # the source's wall clock → an instant → the day in `zone`
                times = pd.to_datetime(to_utc_us(times.astype("datetime64[us]"), own), unit="us", utc=True)
                times = times.dt.tz_convert(zone)
            for d, n in times.dt.date.value_counts().items():
                out[d] = out.get(d, 0) + int(n)
        return out

    def describe(self) -> str:
        size = self.path.stat().st_size
        return (
            f"CSV {self.path} ({size} bytes): {len(self.columns)} columns "
            f"({'declared' if self.declared else 'detected'}), cursor byte offset, "
            f"identity {'uniqueid+sequence' if self.has_sequence else 'row hash'}"
        )

    def window(self) -> None:
        """A file is read on from its offset: no look-back window to fingerprint."""
        return None

    def close(self) -> None:
        pass
