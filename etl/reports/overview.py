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
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

US = 1_000_000
US_PER_HOUR = 3_600 * US
OV_COLUMNS = (
    "source",
    "linkedid",
    "start_us",
    "wait",
    "talk",
    "direction",
    "external_number",
    "extension",
    "outcome",
    "event",
    "did",
    "queue",
)
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


def _hist(keys: pd.Series, values: pd.Series, out: dict[str, dict[str, Any]], name: str) -> None:
    if not len(keys):
        return
    for (day, v), n in pd.DataFrame({"d": keys, "v": values}).groupby(["d", "v"]).size().items():
        out[day][name][str(int(v))] = int(n)


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
    first call start in the ledger."""
    if calls.empty:
        return {}
    f = calls.reset_index(drop=True)
    days, hours = local_time(f["start_us"].to_numpy(), zone)
    f["day"] = days.astype(str)
    f["hour"] = hours
    f["extension"] = f["extension"].fillna("").astype(str)
    direction, outcome = f["direction"].to_numpy(), f["outcome"].to_numpy()
    inbound, outbound = direction == "inbound", direction == "outbound"
    answered = outcome == "answered"
    missed = inbound & ~answered
    f["missed"] = missed
    wanted = sorted(set(f["day"])) if only is None else sorted(only & set(f["day"]))
    out = {d: empty_day() for d in wanted}
    if not out:
        return {}
    mine = f["day"].isin(out).to_numpy()
    g = f[mine]
    m_in, m_out, m_ans, m_missed = inbound[mine], outbound[mine], answered[mine], missed[mine]
    day = g["day"]
    for name, mask in (("in", m_in), ("out", m_out), ("missed", m_missed), ("answered_in", m_in & m_ans)):
        for d, n in day[mask].value_counts().items():
            out[str(d)][name] = int(n)
    for (d, h), n in g.groupby(["day", "hour"]).size().items():
        out[str(d)]["hours"][int(h)] = int(n)
    _hist(day[m_in & m_ans], g["wait"][m_in & m_ans], out, "wait")
    _hist(day[m_missed], g["wait"][m_missed], out, "aband")

    # callbacks: the first answered call with the number after each missed call
    cb = _callbacks(f, answered, callback_hours)
    cb = cb[cb["day"].isin(out).to_numpy(dtype=bool)]
    back = cb[cb["back"].to_numpy(dtype=bool)]
    _hist(back["day"], back["delay"], out, "cb")
    for d, n in back[back["same_day"].to_numpy(dtype=bool)]["day"].value_counts().items():
        out[str(d)]["cb_same"] = int(n)
    for d, n in cb[~cb["back"].to_numpy(dtype=bool)]["day"].value_counts().items():
        out[str(d)]["open"] = int(n)

    # new and returning numbers
    pairs = g[["day", "external_number"]].drop_duplicates()
    first = pairs["external_number"].map(first_us)
    first_day = pd.Series(local_time(first.fillna(0).to_numpy(), zone)[0].astype(str), index=pairs.index)
    new = (first_day == pairs["day"]) | first.isna()
    for d, n in pairs["day"][new].value_counts().items():
        out[str(d)]["new"] = int(n)
    for d, n in pairs["day"][~new].value_counts().items():
        out[str(d)]["ret"] = int(n)

    # per extension
    e = pd.DataFrame(
        {
            "day": day,
            "ext": g["extension"],
            "answered": m_in & m_ans,
            "outbound": m_out,
            "missed": m_missed,
            "talk": g["talk"].astype("int64"),
            "talked": m_ans,
            "with_event": g["event"].fillna(False).astype(bool),
            "calls": 1,
        }
    )
    sums = e.groupby(["day", "ext"]).sum()
    backs = back.groupby(["day", "cb_ext"]).size()
    for (d, x), row in zip(sums.index, sums.itertuples(index=False), strict=True):
        vals = (row.answered, row.outbound, row.missed, 0, row.talk, row.talked, row.with_event, row.calls)
        out[str(d)]["ext"][str(x)] = [int(v) for v in vals]
    for (d, x), n in backs.items():
        out[str(d)]["ext"].setdefault(str(x), [0] * len(EXT_FIELDS))[3] = int(n)

    # per line (DID) and per queue, where the CDR had them
    for col in ("did", "queue"):
        have = g[col].fillna("").astype(str).to_numpy() != ""
        if not have.any():
            continue
        lf = pd.DataFrame(
            {
                "day": day[have],
                "key": g[col][have].astype(str),
                "calls": 1,
                "answered": (m_in & m_ans)[have],
                "missed": m_missed[have],
                "wait_answered": np.where((m_in & m_ans)[have], g["wait"][have], 0),
            }
        )
        for (d, k), row in lf.groupby(["day", "key"]).sum().iterrows():
            out[str(d)][col][str(k)] = [int(row[c]) for c in LINE_FIELDS]
    return out


def _callbacks(f: pd.DataFrame, answered: np.ndarray, callback_hours: float) -> pd.DataFrame:
    """Each missed call: its day, whether it was called back within the window, the delay
    (whole seconds), whether on the same local day, and the callback's extension."""
    cols = ["day", "back", "delay", "same_day", "cb_ext"]
    missed = f[f["missed"] & f["external_number"].notna()]
    if missed.empty:
        return pd.DataFrame(columns=cols)
    right = f[answered & f["external_number"].notna()][["external_number", "start_us", "day", "extension"]]
    right = right.rename(columns={"start_us": "cb_us", "day": "cb_day", "extension": "cb_ext"})
    joined = pd.merge_asof(
        missed[["external_number", "start_us", "day"]].astype({"start_us": "int64"}).sort_values("start_us"),
        right.astype({"cb_us": "int64"}).sort_values("cb_us"),
        left_on="start_us",
        right_on="cb_us",
        by="external_number",
        direction="forward",
        allow_exact_matches=False,
    )
    delay = joined["cb_us"] - joined["start_us"]
    joined["back"] = joined["cb_us"].notna() & (delay <= int(callback_hours * US_PER_HOUR))
    joined["delay"] = (delay.fillna(0) // US).astype("int64")
    joined["same_day"] = joined["back"] & (joined["cb_day"] == joined["day"])
    return joined[cols]


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


@dataclass(frozen=True)
class Period:
    """[start, end) in local days, and the previous period of the same length."""

    start: date
    end: date

    @classmethod
    def of(cls, today: date, since: date | None, until: date | None, days: int = 28) -> Period:
        end = (until + timedelta(days=1)) if until else today + timedelta(days=1)
        start = since if since else end - timedelta(days=days)
        return cls(start, max(end, start + timedelta(days=1)))

    @property
    def length(self) -> int:
        return (self.end - self.start).days

    @property
    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.length), self.start)

    def days(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.length)]


def select(days: Mapping[str, Mapping[str, Any]], period: Period) -> list[Mapping[str, Any]]:
    return [days[d] for d in period.days() if d in days]


def daily(days: Mapping[str, Mapping[str, Any]], period: Period) -> tuple[list[str], dict[str, list[int]]]:
    """Per day of the period: inbound answered, outbound, missed; and new / returning numbers."""
    labels = period.days()
    get = [days.get(d) or empty_day() for d in labels]
    return labels, _series(get)


def weekly(
    days: Mapping[str, Mapping[str, Any]], last_day: date, weeks: int = 52
) -> tuple[list[str], dict[str, list[int]]]:
    """Per week (Monday), the `weeks` weeks up to the one holding `last_day`."""
    monday = last_day - timedelta(days=last_day.weekday())
    labels = [(monday - timedelta(weeks=weeks - 1 - i)).isoformat() for i in range(weeks)]
    buckets: list[list[Mapping[str, Any]]] = [[] for _ in labels]
    first = date.fromisoformat(labels[0])
    for d, v in days.items():
        i = (date.fromisoformat(d) - first).days // 7
        if 0 <= i < weeks:
            buckets[i].append(v)
    keys = ("in", "out", "missed", "new", "ret")
    return labels, _series([{k: sum(v[k] for v in b) for k in keys} for b in buckets])


def _series(per: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    return {
        "inbound": [v["in"] - v["missed"] for v in per],
        "outbound": [v["out"] for v in per],
        "missed": [v["missed"] for v in per],
        "new": [v["new"] for v in per],
        "returning": [v["ret"] for v in per],
    }


def heat(days: Mapping[str, Mapping[str, Any]], period: Period) -> list[list[int]]:
    """Weekday (Monday first) × hour counts of the period's calls."""
    grid = [[0] * 24 for _ in range(7)]
    for d in period.days():
        v = days.get(d)
        if v:
            row = grid[date.fromisoformat(d).weekday()]
            for h, n in enumerate(v["hours"]):
                row[h] += n
    return grid


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
