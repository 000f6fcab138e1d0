"""Pure transform: the legs (CDR rows) of calls → one record per call (linkedid).

Rules (docs/normalisation.md):
- a call is every row sharing a linkedid; start = first leg's start, end = last leg's end;
- a leg counts as *answered by a person* when its disposition is ANSWERED and it has a
  destination channel: an IVR or `Hangup` leg is "answered" by the dialplan, not by anyone;
- talk = the length of the union of the answered legs' [answer, end] intervals, so parallel
  ring-group attempts and the overlapping legs of an attended transfer are never counted twice;
- wait = first person's answer − start (or the whole call when nobody answered);
- attempts = distinct destination channels dialled (ring groups and queues ring several);
- outcome: answered, else missed with the reason: busy, no answer, failed, congestion,
  cancel, or ivr (the caller left before anyone was dialled).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.store import calls

US = 1_000_000
CALL_COLUMNS = tuple(c.name for c in calls.columns if c.name != "updated_us")  # the ledger's own list
# When nobody answered, the "strongest" disposition names the reason.
_REASON_ORDER = {"BUSY": 0, "CONGESTION": 1, "FAILED": 2, "CANCEL": 3, "NO ANSWER": 4}
_SPY_APPS = {"ChanSpy", "ExtenSpy"}


def group_calls(legs: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, linkedid) from all the legs of those calls."""
    if legs.empty:
        return pd.DataFrame(columns=list(CALL_COLUMNS))
    df = legs.copy()
    seq = df["sequence"] if "sequence" in df.columns else pd.Series(0, index=df.index)
    df["_seq"] = pd.to_numeric(seq, errors="coerce").fillna(0)
    df = df.sort_values(["source", "linkedid", "calldate_us", "_seq"], kind="stable")
    has_dst = df["dstchannel"].fillna("").astype(str).str.len() > 0
    spy = df["lastapp"].isin(_SPY_APPS)
    person = (df["disposition"] == "ANSWERED") & (has_dst | spy)
    df["_person"] = person
    df["_ans"] = df["answer_us"].where(person)
    df["_end"] = df["end_us"].where(person)
    df["_dst"] = df["dstchannel"].where(has_dst)
    # who answered: an inbound leg's extension is the phone that rang; an internal leg's
    # callee is its dst
    answerer = df["extension"].where(
        df["direction"] != "internal", df["dst"] if "dst" in df.columns else None
    )
    df["_ans_ext"] = answerer.where(person)
    df["_reason_rank"] = df["disposition"].map(_REASON_ORDER)

    g = df.groupby(["source", "linkedid"], sort=False)
    out = g.agg(
        start_us=("calldate_us", "min"),
        end_us=("end_us", "max"),
        answer_us=("_ans", "min"),
        legs=("row_id", "size"),
        attempts=("_dst", "nunique"),
        direction=("direction", "first"),
        external_number=("external_number", "first"),  # `first` skips missing values
        first_ext=("extension", "first"),
        answered_by=("_ans_ext", "first"),  # legs are in time order
        answered_legs=("_person", "sum"),
        reason_rank=("_reason_rank", "min"),
    ).reset_index()

    out["talk"] = _talk_seconds(df[person], out)
    answered = out["answered_legs"] > 0
    out["answer_us"] = out["answer_us"].where(answered)
    start = out["start_us"].astype("int64")
    out["wait"] = np.where(
        answered,
        (out["answer_us"].fillna(0).astype("int64") - start) // US,
        (out["end_us"].astype("int64") - start) // US,
    )
    out["wait"] = out["wait"].clip(lower=0)
    # the employee: who answered an inbound or internal call, who dialled an outbound one
    take_answerer = out["answered_by"].notna() & (out["direction"] != "outbound")
    out["extension"] = out["answered_by"].where(take_answerer, out["first_ext"])
    reasons = {v: k.lower() for k, v in _REASON_ORDER.items()}
    out["outcome"] = np.where(answered, "answered", "missed")
    missed_reason = out["reason_rank"].map(reasons).fillna("ivr")
    out["reason"] = np.where(answered, "", missed_reason)
    out["legs"] = out["legs"].astype("int64")
    out["attempts"] = out["attempts"].astype("int64")
    out["talk"] = out["talk"].astype("int64")
    out["wait"] = out["wait"].astype("int64")
    return out.loc[:, list(CALL_COLUMNS)]


def _talk_seconds(answered: pd.DataFrame, calls: pd.DataFrame) -> pd.Series:
    """Union of answered intervals per call, in whole seconds, aligned with `calls`.

    Vectorised: within each call (intervals sorted by start) a new segment begins where an
    interval starts after everything before it has ended; talk = Σ (segment end − start)."""
    if answered.empty:
        return pd.Series(0, index=calls.index, dtype="int64")
    a = answered[["source", "linkedid", "_ans", "_end"]].dropna()
    a = a.assign(_ans=a["_ans"].astype("int64"), _end=a["_end"].astype("int64"))
    a = a.sort_values(["source", "linkedid", "_ans"], kind="stable")
    code = a.groupby(["source", "linkedid"], sort=False).ngroup()
    reach = a["_end"].groupby(code).cummax().groupby(code).shift(1)
    segment = (reach.isna() | (a["_ans"] > reach)).cumsum()
    seg = (
        pd.DataFrame({"code": code, "s": a["_ans"], "e": a["_end"], "seg": segment})
        .groupby("seg")
        .agg(code=("code", "first"), s=("s", "min"), e=("e", "max"))
    )
    per_code = (seg["e"] - seg["s"]).clip(lower=0).groupby(seg["code"]).sum()
    keys = a[["source", "linkedid"]].assign(code=code).drop_duplicates("code").set_index("code")
    talk = pd.Series(per_code.to_numpy(), index=pd.MultiIndex.from_frame(keys.loc[per_code.index]))
    index = pd.MultiIndex.from_frame(calls[["source", "linkedid"]])
    return pd.Series(talk.reindex(index).fillna(0).to_numpy() // US, index=calls.index).astype("int64")
