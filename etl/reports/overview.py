"""Pure figures of the overview page (no I/O): per local day, additive aggregates of the calls
(`day_aggregates`); the period's figures from those days (`combine`, `figures`); the period
and its previous one (`Period`); series for the charts.

Why per day: a day's aggregate is a small JSON the next run keeps (`report_marks`), so an
incremental run recomputes only the days the new calls touch and sums the rest. Everything
stored is additive — counts, and histograms (value → count) where the page shows a median or
a 90th percentile, so the percentile of any period is exact.

Definitions (docs/reports.md, the page's footnotes say the same):
- a call is one ledger `calls` row (one per linkedid: a transferred call or a queue's legs
  are one call) with an external number, counted on the local day and hour it started;
- inbound / outbound by the call's direction (click-to-call is outbound); missed = an inbound
  call nobody answered (a queue call one member answered is answered);
- wait = from the start of the call to the first person's answer; for a missed call the time
  the caller waited before hanging up (the whole call);
- called back = a missed call followed, within `callback_hours`, by an answered call (inbound
  or outbound) with the same number; the delay is from the missed call's start to that
  call's start; the callback's employee is that answered call's extension;
- new number = its first call in the ledger is on that day; returning = a number calling
  that day that had called before (counted once per day).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .figures import CALL_COLUMNS, US_PER_HOUR

US = 1_000_000
# the client pages' call columns, and what only the overview reads
OV_COLUMNS = (*CALL_COLUMNS, "event", "did", "queue")
# per extension: inbound answered, outbound, missed (rang it), called back (callbacks it made),
# talk seconds, calls with talk, calls with a 1C event, all its calls
EXT_FIELDS = ("answered", "outbound", "missed", "called_back", "talk", "talked", "with_event", "calls")
LINE_FIELDS = ("calls", "answered", "missed", "wait_answered")  # per DID and per queue
COUNTS = ("in", "out", "missed", "answered_in", "cb_same", "open", "new", "ret")
HISTS = ("wait", "aband", "cb")  # answered inbound waits, abandoned waits, callback delays (s)


def local_time(start_us: np.ndarray, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Local day (datetime64[D]) and hour of each start, in `zone` (DST-aware)."""
    utc = pd.to_datetime(np.asarray(start_us, dtype="int64"), unit="us", utc=True)
    values = utc.tz_convert(zone).tz_localize(None).to_numpy(dtype="datetime64[us]")
    days = values.astype("datetime64[D]")
    hours = ((values - days).astype("int64") // US_PER_HOUR).astype("int64")
    return days, hours


def empty_day() -> dict[str, Any]:
    d: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    d.update({h: {} for h in HISTS})
    d.update(hours=[0] * 24, ext={}, did={}, queue={})
    return d


def day_aggregates(
    calls: pd.DataFrame,
    first_us: Mapping[str, int],
    zone: ZoneInfo,
    callback_hours: float,
    only: set[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The aggregate of each local day (ISO date) of `calls` (columns `OV_COLUMNS`), or of the
    days in `only`. `calls` must hold every call from the first such day's start to
    `callback_hours` after the last one's end (the callbacks), and `first_us` every number's
    first call start in the ledger.

    numpy on integer codes throughout (a day, an extension, a number is an integer; pandas'
    groupby on strings was ~6 µs a call, most of a full run's overview)."""
    if calls.empty:
        return {}
    start = calls["start_us"].to_numpy(dtype="int64")
    days, hours = local_time(start, zone)
    dayi = days.astype("int64")
    first_day = int(dayi.min())
    di = dayi - first_day  # day index of each call
    nd = int(di.max()) + 1
    uniq = np.arange(first_day, first_day + nd)
    names = uniq.astype("datetime64[D]").astype(str)
    keep = np.bincount(di, minlength=nd) > 0
    if only is not None:
        keep &= np.isin(names, sorted(only))
    if not keep.any():
        return {}
    out = {str(names[i]): empty_day() for i in np.flatnonzero(keep)}
    mine = keep[di]
    direction, outcome = calls["direction"].to_numpy(), calls["outcome"].to_numpy()
    inbound, outbound = direction == "inbound", direction == "outbound"
    answered = outcome == "answered"
    missed = inbound & ~answered
    ans_in = inbound & answered
    wait = calls["wait"].to_numpy(dtype="int64")

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(di[mask & mine], minlength=nd)

    def each_day(values: np.ndarray) -> Iterable[tuple[dict[str, Any], int]]:
        for i in np.flatnonzero(keep):
            yield out[str(names[i])], int(values[i])

    for name, mask in (("in", inbound), ("out", outbound), ("missed", missed), ("answered_in", ans_in)):
        for d, v in each_day(count(mask)):
            d[name] = v
    per_hour = np.bincount(di[mine] * 24 + hours[mine], minlength=nd * 24).reshape(nd, 24)
    for i in np.flatnonzero(keep):
        out[str(names[i])]["hours"] = per_hour[i].tolist()
    _hist(out, names, "wait", di[ans_in & mine], wait[ans_in & mine])
    _hist(out, names, "aband", di[missed & mine], wait[missed & mine])

    ext, exts = pd.factorize(calls["extension"].fillna("").astype(str))
    num, nums = pd.factorize(calls["external_number"])
    cb_of, delay = _callbacks(num, start, answered, missed, callback_hours)
    back = missed & mine & (cb_of >= 0)
    _hist(out, names, "cb", di[back], delay[back])
    same = back.copy()
    same[back] = di[cb_of[back]] == di[back]
    for d, v in each_day(count(same)):
        d["cb_same"] = v
    for d, v in each_day(count(missed & (cb_of < 0))):
        d["open"] = v

    # new and returning numbers: a (day, number) pair is new when the number's first call is that day
    first = np.array([first_us.get(n, -1) for n in nums], dtype="int64")
    first_of = np.where(first >= 0, local_time(np.maximum(first, 0), zone)[0].astype("int64"), -1)
    has = mine & (num >= 0)
    pairs = np.unique(di[has].astype("int64") * len(nums) + num[has])
    pd_day, pd_num = pairs // len(nums), pairs % len(nums)
    is_new = (first_of[pd_num] == uniq[pd_day]) | (first_of[pd_num] < 0)
    for d, v in each_day(np.bincount(pd_day[is_new], minlength=nd)):
        d["new"] = v
    for d, v in each_day(np.bincount(pd_day[~is_new], minlength=nd)):
        d["ret"] = v

    # per extension: one bincount per field over (day, extension) cells
    ne = len(exts)
    cell = di * ne + ext
    talk = calls["talk"].to_numpy(dtype="int64")
    event = calls["event"].fillna(False).to_numpy(dtype=bool)
    fields = [ans_in, outbound, missed, None, talk, answered, event, np.ones(len(calls), dtype=bool)]
    sums = []
    for f in fields:
        if f is None:  # called back: the callback call's extension, on the missed call's day
            cbc = di[back] * ne + ext[cb_of[back]]
            sums.append(np.bincount(cbc, minlength=nd * ne))
        else:
            sums.append(np.bincount(cell[mine], weights=f[mine].astype("int64"), minlength=nd * ne))
    table = np.vstack(sums).astype("int64")
    for c in np.flatnonzero(table.any(axis=0)):
        day_i, x = divmod(int(c), ne)
        if keep[day_i]:
            out[str(names[day_i])]["ext"][str(exts[x])] = table[:, c].tolist()

    # per line (DID) and per queue, where the CDR had them
    for col in ("did", "queue"):
        codes, keys = pd.factorize(calls[col].fillna("").astype(str))
        have = mine & (codes >= 0) & (keys[np.maximum(codes, 0)] != "") if len(keys) else mine & False
        if not have.any():
            continue
        nk = len(keys)
        cells = di[have] * nk + codes[have]
        cols = [
            np.ones(int(have.sum()), dtype="int64"),
            ans_in[have],
            missed[have],
            np.where(ans_in, wait, 0)[have],
        ]
        t = np.vstack([np.bincount(cells, weights=v.astype("int64"), minlength=nd * nk) for v in cols])
        for c in np.flatnonzero(t.any(axis=0)):
            day_i, k = divmod(int(c), nk)
            if keep[day_i]:
                out[str(names[day_i])][col][str(keys[k])] = t[:, c].astype("int64").tolist()
    return out


def _hist(
    out: dict[str, dict[str, Any]], names: np.ndarray, name: str, di: np.ndarray, v: np.ndarray
) -> None:
    """value → count per day, into `out[day][name]`."""
    if not len(di):
        return
    big = int(v.max()) + 1
    keys, counts = np.unique(di.astype("int64") * big + v, return_counts=True)
    for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
        d, value = divmod(k, big)
        out[str(names[d])][name][str(value)] = c


def _callbacks(
    num: np.ndarray, start: np.ndarray, answered: np.ndarray, missed: np.ndarray, callback_hours: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each call: the index of the call that called it back (the first answered call with
    the number that started later, within the window), else -1; and the delay in whole seconds."""
    n = len(start)
    cb_of = np.full(n, -1, dtype="int64")
    delay = np.zeros(n, dtype="int64")
    valid = num >= 0
    if not (missed & valid).any():
        return cb_of, delay
    uniq, rank = np.unique(start, return_inverse=True)  # equal starts share a rank: "later" is strict
    width = len(uniq) + 1
    key = num.astype("int64") * width + rank
    ans = np.flatnonzero(answered & valid)
    ans = ans[np.argsort(key[ans], kind="stable")]
    ans_keys = key[ans]
    m = np.flatnonzero(missed & valid)
    pos = np.searchsorted(ans_keys, key[m], side="right")
    ok = pos < len(ans)
    cand = np.where(ok, ans[np.minimum(pos, len(ans) - 1)], -1) if len(ans) else np.full(len(m), -1)
    same_number = (cand >= 0) & (num[np.maximum(cand, 0)] == num[m])
    gap = start[np.maximum(cand, 0)] - start[m]
    hit = same_number & (gap <= int(callback_hours * US_PER_HOUR))
    cb_of[m[hit]] = cand[hit]
    delay[m[hit]] = gap[hit] // US
    return cb_of, delay


def combine(days: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The sum of day aggregates."""
    total = empty_day()
    for d in days:
        for k in COUNTS:
            total[k] += d.get(k, 0)
        for k in HISTS:
            t = total[k]
            for v, n in d.get(k, {}).items():
                t[v] = t.get(v, 0) + n
        total["hours"] = [a + b for a, b in zip(total["hours"], d.get("hours", [0] * 24), strict=True)]
        for k, width in (("ext", len(EXT_FIELDS)), ("did", len(LINE_FIELDS)), ("queue", len(LINE_FIELDS))):
            t = total[k]
            for key, vals in d.get(k, {}).items():
                acc = t.setdefault(key, [0] * width)
                for i, v in enumerate(vals):
                    acc[i] += v
    return total


def percentile(hist: Mapping[str, int], p: float) -> int | None:
    """Nearest rank: the smallest value with at least ⌈p·n⌉ of the n values at or below it."""
    n = sum(hist.values())
    if not n:
        return None
    rank = max(1, math.ceil(p * n))
    seen = 0
    for v in sorted(hist, key=int):
        seen += hist[v]
        if seen >= rank:
            return int(v)
    return None  # pragma: no cover - the loop always reaches n


def _at_most(hist: Mapping[str, int], limit: float) -> int:
    return sum(n for v, n in hist.items() if int(v) <= limit)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def figures(total: Mapping[str, Any], sl_seconds: int) -> dict[str, Any]:
    """The period's figures from `combine`d days."""
    inbound, missed = total["in"], total["missed"]
    cb = total["cb"]
    called_back = sum(cb.values())
    return {
        "inbound": inbound,
        "outbound": total["out"],
        "missed": missed,
        "answered_in": total["answered_in"],
        "sl": _share(_at_most(total["wait"], sl_seconds), inbound),
        "wait_median": percentile(total["wait"], 0.5),
        "wait_p90": percentile(total["wait"], 0.9),
        "abandoned": missed,
        "aband_median": percentile(total["aband"], 0.5),
        "aband_p90": percentile(total["aband"], 0.9),
        "called_back": called_back,
        "cb_share": _share(called_back, missed),
        "cb_15min": _share(_at_most(cb, 900), missed),
        "cb_1h": _share(_at_most(cb, 3600), missed),
        "cb_same_day": _share(total["cb_same"], missed),
        "cb_median": percentile(cb, 0.5),
        "open": total["open"],
        "new": total["new"],
        "returning": total["ret"],
    }


def manager_rows(total: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per extension (most calls first): its employee's name from 1C when known."""
    rows = []
    for ext, v in total["ext"].items():
        r: dict[str, Any] = dict(zip(EXT_FIELDS, v, strict=True))
        r["ext"], r["name"] = ext, names.get(ext, "")
        r["avg"] = r["talk"] / r["talked"] if r["talked"] else None
        r["event_share"] = r["with_event"] / r["calls"] if r["calls"] else None
        rows.append(r)
    rows.sort(key=lambda r: (-r["calls"], r["ext"]))
    return rows


def line_rows(table: Mapping[str, Sequence[int]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for k, v in table.items():
        r: dict[str, Any] = dict(zip(LINE_FIELDS, v, strict=True))
        r["key"] = k
        rows.append(r)
        r["wait_avg"] = r["wait_answered"] / r["answered"] if r["answered"] else None
    rows.sort(key=lambda r: (-r["calls"], r["key"]))
    return rows


def touched_days(starts_us: Iterable[int], zone: ZoneInfo, callback_hours: float) -> set[str]:
    """The days whose aggregate a changed call starting at each of `starts_us` can change: its
    own, and those of the missed calls it may have called back (up to `callback_hours` before)."""
    window = int(callback_hours * US_PER_HOUR)
    t = np.unique(np.fromiter(starts_us, dtype="int64"))
    if not len(t):
        return set()
    lo, hi = local_time(t - window, zone)[0], local_time(t, zone)[0]
    out: set[str] = set()
    span = (hi - lo).astype("int64")
    for k in range(int(span.max()) + 1):
        out.update((lo[span >= k] + np.timedelta64(k, "D")).astype(str).tolist())
    return out
