"""Pure transforms: a chunk of raw CDR rows → ledger rows + quarantined rows.

No I/O here. Every step works on whole columns (pandas), and per-value Python work is done
once per *distinct* value (dispositions, contexts, numbers), not once per row, so the cost per
row stays small. The input columns are named as Asterisk names the CDR (`calldate` or `start`,
`answer`, `end`, `clid`, …); anything missing is filled with the CDR's own empty value.

Decisions (documented in docs/normalisation.md):
- times are wall-clock in the source's zone; they become UTC. In the hour repeated when DST
  ends, the instant closest to the epoch in Asterisk's uniqueid (`<epoch>.<n>`) is chosen, and
  the earlier instant when the uniqueid carries no epoch; times inside the skipped spring hour
  are shifted forward. Sentinels (`0000-00-00`, `1000-01-01`, `1970-01-01`) mean "empty".
- a row whose identity or times cannot be understood goes to quarantine with the reason and
  its raw values; it never stops the chunk.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from etl.cdr_columns import CDR_INT_COLUMNS, CDR_TEXT_COLUMNS
from etl.cdr_times import parse_times, to_utc_us, uniqueid_epoch_us
from etl.directions import Directions, add_directions
from etl.distinct import Distinct
from etl.frames import pack_frame, unpack_frame

DISPOSITIONS = {
    0: "NO ANSWER",
    1: "NULL",
    2: "FAILED",
    4: "BUSY",
    8: "ANSWERED",
    16: "CONGESTION",
    32: "CANCEL",
}
AMAFLAGS = {0: "NONE", 1: "OMIT", 2: "BILLING", 3: "DOCUMENTATION"}
MAX_UNIQUEID = 150
SEP = "\x1f"
# Columns whose text callers and trunks control: where cp1251 and cut UTF-8 turn up.
HOSTILE_TEXT = ("clid", "cnam", "dst_cnam", "outbound_cnam", "lastdata", "userfield", "src", "dst", "cnum")
_EDGE_SPACE = re.compile(r"\s\x00|\x00\s")  # whitespace next to a NUL separator


@dataclass(frozen=True)
class Options:
    """What normalisation needs to know about one source."""

    source: str
    timezone: str = "UTC"
    region: str = "RU"
    extension_pattern: str = r"^\d{2,5}$"
    inbound_contexts: tuple[str, ...] = ()
    outbound_contexts: tuple[str, ...] = ()
    trunk_channels: tuple[str, ...] = ()
    encoding_fallback: str = "cp1251"
    identity: str = "sequence"  # "sequence": uniqueid + sequence; "hash": a hash of the row
    now_us: int | None = None  # rows later than now + 1 day are impossible


@dataclass
class Normalised:
    rows: pd.DataFrame
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0  # identical rows seen twice in the same chunk

    # pickled (the sync's reader process → its writer) with the text columns packed
    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "rows": pack_frame(self.rows)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "rows": unpack_frame(state["rows"])})


# --- text ----------------------------------------------------------------------------------


def decode_bytes(value: bytes, fallback: str = "cp1251") -> str:
    """UTF-8 when it is; UTF-8 with one character cut in half loses only that fragment;
    otherwise the fallback encoding (cp1251 by default), then latin-1, which never fails."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        # UTF-8 cut by a byte-wise truncation (at the end, or inside `"Name" <num>`) leaves
        # one broken character among valid multi-byte ones; cp1251 text is nearly all invalid
        lenient = value.decode("utf-8", "ignore")
        dropped = len(value) - len(lenient.encode("utf-8"))
        if dropped <= 3 and any(ord(c) > 127 for c in lenient):
            return lenient
    try:
        return value.decode(fallback)
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _as_text(v: Any, fallback: str) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, bytes | bytearray | memoryview):
        return decode_bytes(bytes(v), fallback)
    return str(v)


def _text_column(series: pd.Series, fallback: str, hostile: bool) -> np.ndarray:
    """Text values as an object array of `str` ('' for NULL), bytes decoded (`decode_bytes`)."""
    values = series.to_numpy(dtype=object)
    infer = pd.api.types.infer_dtype
    if infer(values, skipna=False) != "string":  # not all str (one C-level scan; FreePBX's are)
        if infer(values, skipna=True) in ("string", "empty"):  # str and NULLs: '' for NULL
            values = np.where(pd.isna(values), "", values).astype(object)
        else:  # numbers, bytes, mixed: once per distinct value
            fix = functools.partial(_as_text, fallback=fallback)
            try:
                values = Distinct(values).map(fix)
            except TypeError:  # unhashable values (bytearray, memoryview)
                values = np.array([fix(v) for v in values], dtype=object)
    # PostgreSQL cannot store NUL in text: keep the row, mark the byte (one C-level test first)
    if hostile and "\x00" in "".join(values.tolist()):
        values = np.array([v.replace("\x00", "\ufffd") for v in values], dtype=object)
    return values


def _stripped(values: np.ndarray) -> np.ndarray:
    """`str.strip` of each value; skipped when one C-level look at the joined text finds no
    value with whitespace at either end, the usual case for Asterisk's ids."""
    joined = "\x00".join(values.tolist())
    if joined == joined.strip() and not _EDGE_SPACE.search(joined):
        return values
    return np.array([v.strip() for v in values], dtype=object)


# --- enums ---------------------------------------------------------------------------------


def _disposition(v: Any) -> str:
    text = "" if v is None else str(v).strip()
    if text.lstrip("-").isdigit():
        return DISPOSITIONS.get(int(text), text)
    return text.upper()


def _amaflags(v: Any) -> str:
    text = "" if v is None else str(v).strip()
    if text.lstrip("-").isdigit():
        return AMAFLAGS.get(int(text), text)
    return text.upper()


# --- identity ------------------------------------------------------------------------------


def content_hashes(columns: Sequence[Iterable[str]]) -> list[str]:
    """Per row: blake2b-128 of its values (given column by column) joined with SEP."""
    blake = hashlib.blake2b
    return [blake(SEP.join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
            for parts in zip(*columns, strict=True)]  # fmt: skip


def _time_texts(times: pd.Series) -> list[str]:
    """Naive (wall-clock) times as whole microseconds since 1970-01-01, '' where absent."""
    values = times.to_numpy(dtype="datetime64[us]")
    return _whole_texts(values.astype("int64"), np.isnat(values))


def _int_texts(values: pd.Series) -> list[str]:
    """Whole numbers as text, '' where missing (`sequence` 3.0 → '3')."""
    missing = values.isna().to_numpy()
    if values.abs().max() > 2**53:  # beyond exact floats: one by one
        return ["" if m else str(int(v)) for v, m in zip(values.tolist(), missing, strict=True)]
    return _whole_texts(values.fillna(0).astype("int64").to_numpy(), missing)


def _whole_texts(values: np.ndarray, missing: np.ndarray) -> list[str]:
    if missing.all():
        return [""] * len(values)
    texts = list(map(str, values.tolist()))
    for i in np.flatnonzero(missing).tolist():
        texts[i] = ""
    return texts


def raw_json(row: dict[str, Any]) -> str:
    """A faithful JSON image of a raw row (bytes kept as hex)."""

    def enc(v: Any) -> Any:
        if isinstance(v, bytes | bytearray | memoryview):
            return {"hex": bytes(v).hex()}
        if v is None or isinstance(v, str | int | bool):
            return v
        if isinstance(v, float):
            return None if np.isnan(v) else v
        return str(v)

    return json.dumps({k: enc(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True)


# --- the chunk transform -------------------------------------------------------------------


class _Reasons:
    """The first reason each row of a chunk fails for ('' while it is good)."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, "", dtype=object)
        self.good = np.ones(n, dtype=bool)

    def flag(self, mask: pd.Series | np.ndarray, reason: str | np.ndarray) -> None:
        """Rows in `mask` (NA counts as no) that are still good fail for `reason`."""
        hit = (mask.to_numpy(dtype=bool, na_value=False) if isinstance(mask, pd.Series) else mask) & self.good
        if hit.any():
            self.text[hit] = reason if isinstance(reason, str) else reason[hit]
            self.good &= ~hit


def normalise_chunk(
    raw: pd.DataFrame, opts: Options, directions: Directions | None = None, *, classify: bool = True
) -> Normalised:
    """Turn one chunk of raw CDR rows into ledger rows; bad rows go to quarantine.

    `classify=False` leaves out direction / external number / extension, for a caller that
    adds them with `add_directions` elsewhere (the sync splits the work over two processes)."""
    n = len(raw)
    if n == 0:
        return Normalised(rows=pd.DataFrame())
    raw = raw.reset_index(drop=True)
    empty = np.full(n, "", dtype=object)
    text = {
        col: _text_column(raw[col], opts.encoding_fallback, col in HOSTILE_TEXT)
        if col in raw.columns
        else empty
        for col in CDR_TEXT_COLUMNS
    }
    uniqueid = text["uniqueid"] = _stripped(text["uniqueid"])
    linkedid = _stripped(text["linkedid"])
    text["disposition"] = Distinct(text["disposition"]).map(_disposition)
    text["amaflags"] = Distinct(text["amaflags"]).map(_amaflags)

    reasons = _Reasons(n)
    if "_bad" in raw.columns:  # the reader already knows the row is broken (e.g. CSV field count)
        broken = raw["_bad"].fillna("").astype(str).to_numpy(dtype=object)
        reasons.flag(broken != "", broken)
    # identity must be there before anything else
    lengths = np.fromiter(map(len, uniqueid), dtype=np.int64, count=n)
    reasons.flag(lengths == 0, "uniqueid is empty")
    reasons.flag(lengths > MAX_UNIQUEID, f"uniqueid longer than {MAX_UNIQUEID} characters")
    text["linkedid"] = np.where(linkedid != "", linkedid, uniqueid)

    # numbers
    numbers = {}
    for col in ("duration", "billsec"):
        values = (
            pd.to_numeric(raw[col], errors="coerce") if col in raw.columns else pd.Series(0, index=raw.index)
        )
        reasons.flag(values.isna(), f"{col} is not a number")
        reasons.flag(values < 0, f"negative {col}")
        numbers[col] = values.fillna(0)
    reasons.flag(numbers["billsec"] > numbers["duration"] + 1, "billsec greater than duration")
    if "sequence" in raw.columns:
        seq = pd.to_numeric(raw["sequence"], errors="coerce")
        unread = seq.isna()
        if unread.any():  # NULL or blank is no sequence; anything else must be a number
            text_of = raw["sequence"][unread]
            bad_seq = np.zeros(n, dtype=bool)
            bad_seq[unread.to_numpy()] = (
                text_of.notna() & (text_of.astype(str).str.strip() != "")
            ).to_numpy()
            reasons.flag(bad_seq, "sequence is not a number")
    else:
        seq = pd.Series(np.nan, index=raw.index)

    # times
    time_col = "calldate" if "calldate" in raw.columns else "start"
    if time_col not in raw.columns:
        raise ValueError("a CDR chunk needs a calldate or start column")
    calldate, bad_call = parse_times(raw[time_col])
    reasons.flag(bad_call, f"{time_col} is not a date")
    reasons.flag(calldate.isna(), f"{time_col} is empty or a sentinel date")
    no_times = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]"), np.zeros(n, dtype=bool)
    answer, bad_answer = parse_times(raw["answer"]) if "answer" in raw.columns else no_times
    end, bad_end = parse_times(raw["end"]) if "end" in raw.columns else no_times
    reasons.flag(bad_answer, "answer is not a date")
    reasons.flag(bad_end, "end is not a date")

    hints: list[pd.Series] = []

    def hint() -> pd.Series:  # the uniqueid epoch, read only when some time is ambiguous
        if not hints:
            hints.append(uniqueid_epoch_us(pd.Series(uniqueid, index=raw.index)))
        return hints[0]

    call_us = to_utc_us(calldate, opts.timezone, hint)
    answer_us = to_utc_us(answer, opts.timezone, hint)
    end_us = to_utc_us(end, opts.timezone, hint)
    # FreePBX tables have no answer/end: derive them from the durations
    duration, billsec = numbers["duration"].astype("int64"), numbers["billsec"].astype("int64")
    end_us = end_us.fillna(call_us + duration * 1_000_000)
    answered = (text["disposition"] == "ANSWERED") & (billsec > 0).to_numpy()
    answer_us = answer_us.where(answer_us.notna() | ~answered, end_us - billsec * 1_000_000)
    reasons.flag(end_us < call_us - 1_000_000, "end is before the start")
    reasons.flag(answer_us.notna() & (answer_us < call_us - 1_000_000), "answer is before the start")
    if opts.now_us is not None:
        reasons.flag(call_us > opts.now_us + 86_400_000_000, f"{time_col} is in the future")

    # the content hash: the text values, the durations, the exact text of the time values
    # (independent of the zone setting) and the sequence
    seq_text = _int_texts(seq)
    content = content_hashes(
        [
            *(text[c] for c in CDR_TEXT_COLUMNS),
            list(map(str, duration.tolist())),
            list(map(str, billsec.tolist())),
            *(_time_texts(t) for t in (calldate, answer, end)),
            seq_text,
        ]
    )
    if opts.identity == "sequence":
        row_id = uniqueid + np.array(["#" + (s or "-") for s in seq_text], dtype=object)
    else:
        row_id = np.array(["h" + c[:31] for c in content], dtype=object)

    # identities repeated inside the chunk: identical → once; different content → quarantine
    keys = pd.DataFrame({"row_id": row_id, "content_hash": content}, dtype=object)
    dup_same = reasons.good & keys.duplicated(keep="first").to_numpy()
    duplicates = int(dup_same.sum())
    reasons.good &= ~dup_same
    conflict = reasons.good & keys["row_id"].where(reasons.good).duplicated(keep="first").to_numpy()
    reasons.flag(conflict, "identity conflict: another row with the same uniqueid and sequence differs")
    good = reasons.good

    quarantined = _quarantine(raw, reasons.text)
    keep = slice(None) if good.all() else good  # the usual chunk: no copies of its columns
    index = raw.index[keep]

    def texts(values: np.ndarray) -> pd.Series:  # object, not pandas' `str` (a copy of each)
        return pd.Series(values[keep], index=index, dtype=object, copy=False)

    rows = pd.DataFrame(
        {
            **{c: texts(text[c]) for c in CDR_TEXT_COLUMNS},
            "duration": duration.to_numpy()[keep],
            "billsec": billsec.to_numpy()[keep],
            "sequence": seq.to_numpy()[keep],
            "content_hash": texts(np.array(content, dtype=object)),
            "row_id": texts(row_id),
            "calldate_us": call_us.array[keep],
            "answer_us": answer_us.array[keep],
            "end_us": end_us.array[keep],
        },
        index=index,
    )
    if classify:
        rows = add_directions(rows, directions or Directions(opts))
    rows["source"] = pd.Series(np.full(len(index), opts.source, dtype=object), index=index, dtype=object)
    return Normalised(rows=rows, quarantine=quarantined, duplicates=duplicates)


def _quarantine(raw: pd.DataFrame, reasons: np.ndarray) -> list[dict[str, Any]]:
    bad = reasons != ""
    if not bad.any():
        return []
    out = []
    columns = [k for k in raw.columns if not str(k).startswith("_")]
    records = raw.loc[bad, columns].astype(object).to_dict("records")
    for reason, row in zip(reasons[bad].tolist(), records, strict=True):
        image = raw_json({str(k): v for k, v in row.items()})
        out.append(
            {
                "row_key": hashlib.blake2b(image.encode(), digest_size=16).hexdigest(),
                "reason": reason,
                "raw": image,
            }
        )
    return out


LEDGER_ROW_COLUMNS = (
    "source",
    "row_id",
    "content_hash",
    "calldate_us",
    "answer_us",
    "end_us",
    *CDR_TEXT_COLUMNS,
    *CDR_INT_COLUMNS,
    "direction",
    "external_number",
    "extension",
)
