"""Times of CDR rows: wall-clock text or datetimes of a source's zone → UTC microseconds.

Pure, column-wise (pandas). The repeated DST hour takes the instant closest to the epoch in
Asterisk's uniqueid; the skipped hour moves forward; sentinels before 1971 mean "empty"
(docs/normalisation.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

MIN_VALID = pd.Timestamp("1971-01-01")  # below: a sentinel (0000-00-00, 1000-01-01, 1970-01-01)
_EPOCH_IN_UNIQUEID = re.compile(r"(?:^|-)(\d{9,11})\.\d+$")


def parse_times(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Naive datetimes (NaT where empty or sentinel) and a mask of values that were present
    but could not be read as a date."""
    bad = np.zeros(len(series), dtype=bool)
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    else:
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
        missing = parsed.isna().to_numpy()
        if missing.any():  # tell a sentinel or empty value from one that is not a date at all
            raw = series[missing]
            text = raw.astype(str).str.strip()
            zero_like = text.str.match(r"^0000-00-00") | text.str.match(r"^0+$")
            bad[missing] = (raw.notna() & (text != "") & ~zero_like).to_numpy()
    if getattr(parsed.dt, "tz", None) is not None:  # a driver's aware values: their wall clock
        parsed = parsed.dt.tz_localize(None)
    parsed = parsed.astype("datetime64[us]")
    return parsed.where(parsed >= MIN_VALID), bad


def uniqueid_epoch_us(uniqueid: pd.Series) -> pd.Series:
    epoch = uniqueid.str.extract(_EPOCH_IN_UNIQUEID, expand=False)
    return pd.to_numeric(epoch, errors="coerce") * 1_000_000


def to_utc_us(
    local: pd.Series, zone: str, hint_us: pd.Series | Callable[[], pd.Series] | None = None
) -> pd.Series:
    """Wall-clock times in `zone` → int64 µs since the epoch (UTC); NaT → NA.

    Ambiguous times (the repeated DST hour) take the instant closest to `hint_us` where a hint
    exists, else the earlier instant; non-existent times move forward past the gap. `hint_us`
    may be a function, called only when some time is ambiguous.
    """
    if zone in ("UTC", "Etc/UTC") or not local.notna().any():  # nothing to place in a zone
        return _as_us(local)
    early = local.dt.tz_localize(zone, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    late = local.dt.tz_localize(zone, ambiguous=np.zeros(len(local), dtype=bool), nonexistent="shift_forward")
    early_us, late_us = _as_us(early), _as_us(late)
    differs = early_us.ne(late_us) & early_us.notna()
    if not differs.any():
        return early_us
    out = early_us.copy()
    hint = hint_us() if callable(hint_us) else hint_us
    if hint is not None:
        use_late = differs & hint.notna() & ((late_us - hint).abs() < (early_us - hint).abs())
        out = out.where(~use_late, late_us)
    return out


def _as_us(series: pd.Series) -> pd.Series:
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    values = series.astype("datetime64[us]")
    out = pd.Series(values.to_numpy().astype("int64"), index=series.index, dtype="Int64")
    return out.mask(values.isna())
