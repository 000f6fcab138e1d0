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

How: the sync calls `group_calls` once per chunk of ~10,000 legs, so it is written for speed.
The legs are sorted once into call order, each call a contiguous run (`_Runs`); every per-call
value is then a numpy reduction over the runs (`ufunc.reduceat`) or one leg picked per call,
and the text columns are compared once per distinct value (`pd.factorize`), not per leg. This
is several times faster than the pandas groupby with a dozen named aggregations it replaces,
and gives the same frame: values are picked from the input columns, so their dtypes are kept
as the groupby kept them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.ledger.tables import calls

US = 1_000_000
CALL_COLUMNS = tuple(c.name for c in calls.columns if c.name != "updated_us")  # the ledger's own list
# When nobody answered, the "strongest" disposition names the reason.
_REASON_ORDER = {"BUSY": 0, "CONGESTION": 1, "FAILED": 2, "CANCEL": 3, "NO ANSWER": 4}
_SPY_APPS = {"ChanSpy", "ExtenSpy"}


def group_calls(legs: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, linkedid) from all the legs of those calls, in (source, linkedid)
    order; a call's legs are taken in time order (calldate, then sequence)."""
    if legs.empty:
        return pd.DataFrame(columns=list(CALL_COLUMNS))
    runs = _Runs.of(legs)
    if not len(runs.starts):  # every leg lacks its source or linkedid: no call
        return pd.DataFrame(columns=list(CALL_COLUMNS))
    # text columns: each distinct value is looked at once, legs get it through their code
    disposition, dispositions = pd.factorize(legs["disposition"])
    channel, channels = pd.factorize(legs["dstchannel"])
    direction, directions = pd.factorize(legs["direction"])

    has_dst = _per_leg(channel, _non_empty(channels), missing=False)
    spy = legs["lastapp"].isin(_SPY_APPS).to_numpy()
    person = _per_leg(disposition, dispositions == "ANSWERED", missing=False) & (has_dst | spy)
    answered = runs.any(person)
    answer = legs["answer_us"].where(person)  # only a person's answer counts
    start = runs.pick(legs["calldate_us"], runs.order[runs.starts])  # legs are in time order
    end = runs.extreme(legs["end_us"], largest=True)
    first_answer = runs.extreme(answer, largest=False).where(answered)
    first_direction = runs.first(direction >= 0)
    rank = _per_leg(disposition, [_REASON_ORDER.get(d, np.nan) for d in dispositions], missing=np.nan)
    strongest = np.fmin.reduceat(rank[runs.order], runs.starts)  # fmin skips NaN
    return pd.DataFrame(
        {
            "source": runs.keys(legs["source"]),
            "linkedid": runs.keys(legs["linkedid"]),
            "start_us": start,
            "answer_us": first_answer,
            "end_us": end,
            "wait": _wait(start, first_answer, end, answered),
            "talk": _talk_us(runs, answer, legs["end_us"]) // US,
            "direction": runs.pick(legs["direction"], first_direction),
            "external_number": runs.pick_first_valid(legs["external_number"]),
            "extension": _employee(runs, legs, person, direction, directions, first_direction),
            "outcome": np.where(answered, "answered", "missed"),
            "reason": np.where(answered, "", _reason_names(strongest)),
            "legs": runs.sizes,
            "attempts": runs.distinct(np.where(has_dst, channel, -1), len(channels)),
        },
        columns=list(CALL_COLUMNS),
    )


def _wait(start: pd.Series, first_answer: pd.Series, end: pd.Series, answered: np.ndarray) -> np.ndarray:
    """Seconds to the first person's answer, or the whole call when nobody answered."""
    start_us = start.astype("int64").to_numpy()
    to_answer = first_answer.fillna(0).astype("int64").to_numpy() - start_us
    return np.maximum(np.where(answered, to_answer, end.astype("int64").to_numpy() - start_us) // US, 0)


def _employee(
    runs: _Runs,
    legs: pd.DataFrame,
    person: np.ndarray,
    direction: np.ndarray,
    directions: pd.Index,
    first_direction: np.ndarray,
) -> pd.Series:
    """Who answered an inbound or internal call (the first person to), who dialled an
    outbound one (the first extension seen), per call."""
    # who answered: an inbound leg's extension is the phone that rang; an internal leg's
    # callee is its dst
    internal = _per_leg(direction, directions == "internal", missing=False)
    answerer = legs["extension"].where(~internal, legs["dst"] if "dst" in legs.columns else None)
    answered_by = runs.first(person & answerer.notna().to_numpy())
    call_direction = np.where(first_direction >= 0, direction[first_direction], -1)
    outbound = _per_leg(call_direction, directions == "outbound", missing=False)
    return runs.pick(answerer.where(person), answered_by).where(
        (answered_by >= 0) & ~outbound, runs.pick_first_valid(legs["extension"])
    )


@dataclass(frozen=True)
class _Runs:
    """The legs sorted into calls: `order[i]` is the position (in the legs frame) of the i-th
    leg in call order, and call c is the run `order[starts[c] : starts[c + 1]]`. Methods take
    per-leg values in the frame's own order and give one value per call, in call order."""

    order: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, legs: pd.DataFrame) -> _Runs:
        # (source, linkedid) → one integer ordered as the keys are, then one stable lexsort by
        # (key, calldate, sequence): the order the groupby's sort_values gave.
        source, _ = _sorted_codes(legs["source"])
        linkedid, linkedids = _sorted_codes(legs["linkedid"])
        key = source * linkedids + linkedid
        seq = legs["sequence"] if "sequence" in legs.columns else pd.Series(0, index=legs.index)
        seq_key = pd.to_numeric(seq, errors="coerce").fillna(0).to_numpy(dtype=np.float64)
        # float64 holds µs timestamps exactly (up to the year 2255); NaN sorts last, as in pandas
        calldate_key = legs["calldate_us"].to_numpy(dtype=np.float64, na_value=np.nan)
        order = np.lexsort((seq_key, calldate_key, key))
        order = order[(source >= 0)[order] & (linkedid >= 0)[order]]  # no key: in no call (as groupby)
        sorted_key = key[order]
        new_call = np.ones(len(order), dtype=bool)
        new_call[1:] = sorted_key[1:] != sorted_key[:-1]
        return cls(order, np.flatnonzero(new_call))

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.starts, append=len(self.order)).astype(np.int64)

    def call_of_leg(self) -> np.ndarray:
        """The call number of each leg, in call order."""
        return np.repeat(np.arange(len(self.starts)), self.sizes)

    def any(self, mask: np.ndarray) -> np.ndarray:
        return np.logical_or.reduceat(mask[self.order], self.starts)

    def first(self, mask: np.ndarray) -> np.ndarray:
        """Each call's first leg (in call order) where `mask` holds: its position in the frame,
        or -1 if none. The smallest call-order index of a hit, `n` standing for none."""
        return self._first_sorted(mask[self.order])

    def _first_sorted(self, mask_sorted: np.ndarray) -> np.ndarray:
        n = len(self.order)
        first = np.minimum.reduceat(np.where(mask_sorted, np.arange(n), n), self.starts)
        return np.where(first < n, self.order[np.minimum(first, n - 1)], -1)

    def pick(self, values: pd.Series, positions: np.ndarray) -> pd.Series:
        """`values` at `positions`, dtype kept; -1 gives what the groupby gives for a call with
        nothing to take: None in an object column, the dtype's own missing value otherwise."""
        missing = positions < 0
        picked = pd.Series(values.array[np.where(missing, 0, positions)], dtype=values.dtype, copy=False)
        if not missing.any():
            return picked
        if picked.dtype == object:
            array = picked.to_numpy(copy=True)
            array[missing] = None
            return pd.Series(array, dtype=object)
        return picked.where(~missing)

    def pick_first_valid(self, values: pd.Series) -> pd.Series:
        """Each call's first non-missing value (the groupby's `first`)."""
        return self.pick(values, self.first(values.notna().to_numpy()))

    def extreme(self, values: pd.Series, *, largest: bool) -> pd.Series:
        """Each call's max (or min) non-missing value, picked from `values` (dtype kept)."""
        valid = values.notna().to_numpy()[self.order]
        numbers = _numbers(values)[self.order]
        if numbers.dtype.kind == "f":
            fill = -np.inf if largest else np.inf
        else:
            fill = np.iinfo(np.int64).min if largest else np.iinfo(np.int64).max
        best = (np.maximum if largest else np.minimum).reduceat(np.where(valid, numbers, fill), self.starts)
        positions = self._first_sorted(valid & (numbers == np.repeat(best, self.sizes)))
        if values.dtype == object:
            # the groupby's min/max of an object column is done per call in Python (NaN for
            # none), the results' type inferred (ints, or floats beside a NaN), then made object
            found = np.where(positions >= 0, values.to_numpy()[np.maximum(positions, 0)], np.nan)
            return pd.Series(pd.Series(found.tolist()).to_numpy().astype(object), dtype=object)
        return self.pick(values, positions)

    def keys(self, values: pd.Series) -> pd.Index:
        """A key column as the groupby gave it: an Index of the keys, an object one inferred
        (str, or int for integer keys)."""
        keys = pd.Index(self.pick(values, self.order[self.starts]))
        return keys.infer_objects() if keys.dtype == object else keys

    def distinct(self, codes: np.ndarray, count: int) -> np.ndarray:
        """The number of distinct codes in 0..count-1 in each call (the groupby's `nunique`)."""
        codes = codes[self.order]
        seen = codes >= 0
        width = count + 1
        pairs = pd.unique(self.call_of_leg()[seen] * width + codes[seen])
        return np.bincount(pairs // width, minlength=len(self.starts)).astype(np.int64)


def _per_leg(codes: np.ndarray, per_value: np.ndarray | list[float], *, missing: float) -> np.ndarray:
    """A value per distinct value (in `pd.factorize` order) → a value per leg; a missing value
    (code -1) gets `missing`: appended last, it is what index -1 picks."""
    return np.append(np.asarray(per_value), [missing])[codes]


def _non_empty(texts: pd.Index) -> np.ndarray:
    """Per distinct value: is it a non-empty text (`fillna("").astype(str).str.len() > 0`)."""
    if pd.api.types.infer_dtype(texts, skipna=False) == "string":
        return np.asarray(texts != "")
    return (pd.Series(texts).astype(str).str.len() > 0).to_numpy()  # astype(str) decodes bytes


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes ordered as the values are (missing: -1), and how many distinct values.

    `pd.factorize(sort=True)` quicksorts the distinct values; a stable (tim)sort is several
    times faster on linkedids, which arrive nearly sorted (they start with the call's time)."""
    codes, uniques = pd.factorize(values)
    try:
        by_value = np.argsort(np.asarray(uniques, dtype=object), kind="stable")
    except TypeError:  # values of mixed types: pandas knows how to order them
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(np.int64), len(uniques)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[by_value] = np.arange(len(uniques))
    return _per_leg(codes, rank, missing=-1), len(uniques)


def _numbers(values: pd.Series) -> np.ndarray:
    """A numeric column as numpy numbers (missing → 0; mask them separately): float64 for a
    float column, else int64 (truncated, as `astype("int64")`); µs timestamps are exact in both."""
    if pd.api.types.is_float_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=0.0)
    if values.hasnans:
        values = values.fillna(0)
    return values.to_numpy(dtype=np.int64)


def _reason_names(rank: np.ndarray) -> np.ndarray:
    """Per call, the strongest disposition's rank → its name in lower case; ivr when none."""
    names = np.full(len(_REASON_ORDER) + 1, "ivr", dtype=object)  # ranks are 0..n-1; NaN → n
    for name, r in _REASON_ORDER.items():
        names[r] = name.lower()
    return names[np.where(np.isnan(rank), len(_REASON_ORDER), rank).astype(np.int64)]


def _talk_us(runs: _Runs, answer: pd.Series, end: pd.Series) -> np.ndarray:
    """Per call, the length of the union of the answered legs' [answer, end] intervals, in µs
    (`answer` is missing on the legs no person answered).

    A sweep over each call's interval bounds: +1 at an answer, −1 at an end; the union is the
    time during which the count is above zero. An empty or reversed interval (end ≤ answer)
    covers nothing, so it is left out (it would also upset the count)."""
    talk = np.zeros(len(runs.starts), dtype=np.int64)
    s = _numbers(answer).astype(np.int64)  # whole µs, as astype("int64") gives them
    e = _numbers(end).astype(np.int64)
    valid = answer.notna().to_numpy() & end.notna().to_numpy() & (e > s)
    in_order = valid[runs.order]
    if not in_order.any():
        return talk
    legs = runs.order[in_order]
    call = runs.call_of_leg()[in_order]
    times = np.concatenate([s[legs], e[legs]])
    steps = np.repeat(np.array([1, -1], dtype=np.int64), len(legs))
    owner = np.concatenate([call, call])
    sweep = np.lexsort((times, owner))
    times, owner = times[sweep], owner[sweep]
    up = np.cumsum(steps[sweep])[:-1] > 0  # each call's count is back at zero after its last end
    np.add.at(talk, owner[:-1][up], np.diff(times)[up])
    return talk
