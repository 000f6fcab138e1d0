"""Pure transforms from call frames to what the pages show: who each call belongs to, the
figures per client, weekly series, the weekday × hour grid, and the missed calls nobody
returned. DataFrames in, DataFrames or plain values out; no I/O.

Vocabulary: a *party* is a 1C client (`party_id` = its Ref_Key) or, for a number no 1C client
owns, the number itself (`party_id` = "n" + its digits). Reports work with `[source]` alone:
every external number is then a party.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

US_PER_HOUR = 3_600_000_000
CALL_COLUMNS = (
    "source",
    "linkedid",
    "start_us",
    "wait",
    "talk",
    "direction",
    "external_number",
    "extension",
    "outcome",
)


def number_party(number: str) -> str:
    return "n" + "".join(ch for ch in number if ch.isdigit())


def assign_parties(calls: pd.DataFrame, owners: pd.DataFrame) -> pd.DataFrame:
    """One row per (call, party). A call linked to a client by its 1C event (`client_ref`)
    belongs to that client; otherwise to every client owning its number; otherwise to the
    number. `owners` has columns `phone`, `client_ref`."""
    linked = calls["client_ref"].notna() if "client_ref" in calls else pd.Series(False, index=calls.index)
    a = calls[linked].copy()
    a["party_id"] = a["client_ref"]
    rest = calls[~linked]
    if len(owners):
        m = rest.merge(
            owners.rename(columns={"phone": "external_number", "client_ref": "_owner"}),
            on="external_number",
            how="left",
        )
    else:
        m = rest.assign(_owner=None)
    known = m["_owner"].notna()
    # once per distinct number, not per call (a number has ~36 calls in the benchmark's ledger)
    ext = m["external_number"]
    party = {n: number_party(n) for n in ext[~known].dropna().unique().tolist()}
    m["party_id"] = m["_owner"].where(known, ext.map(party.get, na_action="ignore"))
    out = pd.concat([a, m.drop(columns=["_owner"])], ignore_index=True)
    return out


def missed_not_called_back(calls: pd.DataFrame, hours: float) -> pd.DataFrame:
    """Inbound missed calls with no answered call (inbound or outbound) with the same number
    in the `hours` after them. `calls` must hold every call of each number concerned. Returns
    the missed calls' rows (source, linkedid, external_number, start_us)."""
    cols = ["source", "linkedid", "external_number", "start_us"]
    has_number = calls["external_number"].notna()
    missed = calls[has_number & (calls["direction"] == "inbound") & (calls["outcome"] == "missed")]
    if missed.empty:
        return pd.DataFrame(columns=cols)
    answered = calls[has_number & (calls["outcome"] == "answered")][["external_number", "start_us"]]
    answered = answered.rename(columns={"start_us": "next_answer_us"}).sort_values("next_answer_us")
    left = missed[cols].sort_values("start_us")
    joined = pd.merge_asof(
        left.astype({"start_us": "int64"}),
        answered.astype({"next_answer_us": "int64"}),
        left_on="start_us",
        right_on="next_answer_us",
        by="external_number",
        direction="forward",
        allow_exact_matches=False,
    )
    window = int(hours * US_PER_HOUR)
    open_ = joined["next_answer_us"].isna() | (joined["next_answer_us"] - joined["start_us"] > window)
    return joined.loc[open_, cols].reset_index(drop=True)


def local_columns(calls: pd.DataFrame, zone: ZoneInfo) -> pd.DataFrame:
    """Adds `local` (datetime64, wall clock in `zone`), `weekday`, `hour`, `week` (Monday's
    date, datetime64[D]) and `iso` (`YYYY-MM-DDTHH:MM` local)."""
    utc = pd.to_datetime(calls["start_us"].astype("int64"), unit="us", utc=True)
    local = utc.dt.tz_convert(zone).dt.tz_localize(None)
    values = local.to_numpy(dtype="datetime64[us]")
    days = values.astype("datetime64[D]")
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    out = calls.copy()
    out["weekday"] = weekday
    out["hour"] = ((values - days).astype("int64") // US_PER_HOUR).astype("int64")
    out["week"] = days - weekday.astype("timedelta64[D]")
    out["iso"] = np.datetime_as_string(values.astype("datetime64[m]"))
    return out


def figures(part: Mapping[str, np.ndarray]) -> dict[str, float | int | None]:
    """Figures of one party from its calls' columns (numpy arrays)."""
    direction, outcome = part["direction"], part["outcome"]
    inbound = direction == "inbound"
    n = len(direction)
    waits = part["wait"][inbound]
    return {
        "total": int(n),
        "calls_in": int(inbound.sum()),
        "calls_out": int((direction == "outbound").sum()),
        "missed": int((inbound & (outcome == "missed")).sum()),
        "talk": int(part["talk"].sum()) if n else 0,
        "wait_avg": float(waits.mean()) if len(waits) else None,
        "last_us": int(part["start_us"].max()) if n else None,
    }


def weekly(part: Mapping[str, np.ndarray]) -> tuple[list[str], dict[str, list[int]]]:
    """Calls per week (Monday dates, no gaps) split into inbound answered, outbound, missed."""
    weeks = np.asarray(part["week"]).astype("datetime64[D]")
    if not len(weeks):
        return [], {}
    first, last = weeks.min(), weeks.max()
    n = int((last - first).astype("int64") // 7) + 1
    idx = ((weeks - first).astype("int64") // 7).astype("int64")
    missed = (part["direction"] == "inbound") & (part["outcome"] == "missed")
    inbound = (part["direction"] == "inbound") & ~missed
    outbound = part["direction"] == "outbound"
    labels = [str(first + np.timedelta64(7 * i, "D")) for i in range(n)]
    return labels, {
        "inbound": np.bincount(idx[inbound], minlength=n).tolist(),
        "outbound": np.bincount(idx[outbound], minlength=n).tolist(),
        "missed": np.bincount(idx[missed], minlength=n).tolist(),
    }


def heat(part: Mapping[str, np.ndarray]) -> list[list[int]]:
    cells = np.bincount(part["weekday"] * 24 + part["hour"], minlength=7 * 24)
    return cells.reshape(7, 24).tolist()


def group_bounds(keys: Sequence[str] | np.ndarray) -> list[tuple[str, int, int]]:
    """(key, start, stop) of each run of equal keys in a sorted array."""
    arr = np.asarray(keys)
    if not len(arr):
        return []
    change = np.flatnonzero(arr[1:] != arr[:-1]) + 1
    starts = np.concatenate(([0], change))
    stops = np.concatenate((change, [len(arr)]))
    return [(str(arr[s]), int(s), int(e)) for s, e in zip(starts, stops, strict=True)]
