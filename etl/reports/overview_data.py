"""Ledger reads and writes of the overview: its calls (with whether a 1C event is linked, and
the line (DID) and queue from the CDR rows), each number's first call, and what the next run
starts from, in `report_marks` of the output folder: the day aggregates (`ov:YYYY-MM-DD`,
JSON), each number's first call (`ovf:<number>`: `calls` has no index that gives it without
reading every call of the number) and the sources seen (`ovs:sources`: a range read by
(source, start_us) uses the calls' index)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import and_, delete, func, or_, select, tuple_
from sqlalchemy.engine import Connection

from etl.ledger.sql import bulk_write, chunked
from etl.ledger.tables import call_links, calls, cdr_rows, report_marks

from .data import _fetch
from .overview import OV_COLUMNS

PREFIX = "ov:"
FIRST = "ovf:"
SOURCES = "ovs:sources"


def read_calls(
    conn: Connection, *, lo_us: int | None, hi_us: int | None, sources: Sequence[str] | None = None
) -> pd.DataFrame:
    """Calls with an external number starting in [lo_us, hi_us) (either open), with `event`
    (a 1C event is linked), `did` and `queue`."""
    c, lk = calls.c, call_links.c
    stmt = (
        select(*[c[k] for k in OV_COLUMNS[:9]], lk.event_ref)
        .select_from(calls.outerjoin(call_links, and_(lk.source == c.source, lk.linkedid == c.linkedid)))
        .where(c.external_number.is_not(None), c.external_number != "")
    )
    if sources:
        stmt = stmt.where(c.source.in_(sorted(sources)))
    if lo_us is not None:
        stmt = stmt.where(c.start_us >= lo_us)
    if hi_us is not None:
        stmt = stmt.where(c.start_us < hi_us)
    return with_lines(
        conn, pd.DataFrame(_fetch(conn, stmt), columns=[*OV_COLUMNS[:9], "event"]), lo_us, hi_us
    )


def with_lines(conn: Connection, frame: pd.DataFrame, lo_us: int | None, hi_us: int | None) -> pd.DataFrame:
    """`frame` (calls with their 1C `event` reference or None) with `event` as a flag and
    `did`, `queue` from the CDR rows."""
    frame["event"] = frame["event"].notna() & (frame["event"] != "")
    lines = _lines(conn, frame, lo_us, hi_us)
    if lines.empty:
        frame["did"] = None
        frame["queue"] = None
        return frame
    return frame.merge(lines, on=["source", "linkedid"], how="left")


def _lines(conn: Connection, frame: pd.DataFrame, lo_us: int | None, hi_us: int | None) -> pd.DataFrame:
    """Per call: the first non-empty DID of its CDR rows and the queue a row waited in."""
    cols = ["source", "linkedid", "did", "queue"]
    r = cdr_rows.c
    if frame.empty or conn.execute(select(r.row_id).limit(1)).first() is None:
        return pd.DataFrame(columns=cols)
    stmt = select(r.source, r.linkedid, r.did, r.dst, r.lastapp, r.calldate_us).where(
        or_(r.did != "", r.lastapp == "Queue")
    )
    rows: list[Any] = []
    if len(frame) > 50_000:  # most of the ledger: one range read, filtered by the merge
        if lo_us is not None:
            stmt = stmt.where(r.calldate_us >= lo_us)
        if hi_us is not None:
            stmt = stmt.where(r.calldate_us < hi_us + 86_400_000_000)  # legs start after the call
        rows = _fetch(conn, stmt)
    else:
        keys = sorted(set(zip(frame["source"], frame["linkedid"], strict=True)))
        for chunk in chunked(keys):
            rows.extend(_fetch(conn, stmt.where(tuple_(r.source, r.linkedid).in_(chunk))))
    if not rows:
        return pd.DataFrame(columns=cols)
    legs = pd.DataFrame(rows, columns=["source", "linkedid", "did", "dst", "lastapp", "at"]).sort_values("at")
    did = legs[legs["did"] != ""].drop_duplicates(["source", "linkedid"])[["source", "linkedid", "did"]]
    q = legs[(legs["lastapp"] == "Queue") & (legs["dst"] != "")].drop_duplicates(["source", "linkedid"])
    q = q[["source", "linkedid", "dst"]].rename(columns={"dst": "queue"})
    return did.merge(q, on=["source", "linkedid"], how="outer")


def first_calls(conn: Connection, numbers: Iterable[str] | None) -> dict[str, int]:
    """Each number's first call start in the ledger (all numbers when `numbers` is None)."""
    c = calls.c
    stmt = select(c.external_number, func.min(c.start_us)).group_by(c.external_number)
    if numbers is None:
        return {n: int(t) for n, t in _fetch(conn, stmt) if n}
    out: dict[str, int] = {}
    for chunk in chunked(sorted(set(numbers))):
        out.update((n, int(t)) for n, t in _fetch(conn, stmt.where(c.external_number.in_(chunk))))
    return out


def read_days(conn: Connection, target: str) -> dict[str, dict[str, Any]]:
    m = report_marks.c
    rows = _fetch(conn, select(m.name, m.value).where(m.target == target, m.name.like(PREFIX + "%")))
    return {name[len(PREFIX) :]: json.loads(value) for name, value in rows}


def write_days(
    conn: Connection, target: str, days: Mapping[str, Any], gone: Iterable[str], *, everything: bool
) -> None:
    """Stores `days`, drops the days in `gone` (or every stored day first, `everything`)."""
    m = report_marks.c
    if everything:
        conn.execute(delete(report_marks).where(m.target == target, m.name.like(PREFIX + "%")))
    for chunk in chunked(sorted(PREFIX + d for d in gone)):
        conn.execute(delete(report_marks).where(m.target == target, m.name.in_(chunk)))
    rows = [(target, PREFIX + d, json.dumps(v, separators=(",", ":"))) for d, v in sorted(days.items())]
    for part in chunked(rows, 2000):
        bulk_write(conn, report_marks, ["target", "name", "value"], part, update=["value"])


def read_firsts(conn: Connection, target: str, numbers: Iterable[str]) -> dict[str, int]:
    """The stored first call of these numbers (those known)."""
    m = report_marks.c
    out: dict[str, int] = {}
    for chunk in chunked(sorted(FIRST + n for n in set(numbers))):
        rows = _fetch(conn, select(m.name, m.value).where(m.target == target, m.name.in_(chunk)))
        out.update((name[len(FIRST) :], int(value)) for name, value in rows)
    return out


def write_firsts(conn: Connection, target: str, firsts: Mapping[str, int], *, everything: bool) -> None:
    m = report_marks.c
    if everything:
        conn.execute(delete(report_marks).where(m.target == target, m.name.like(FIRST + "%")))
    rows = [(target, FIRST + n, str(int(t))) for n, t in sorted(firsts.items()) if len(n) <= 32]
    for part in chunked(rows, 5000):
        bulk_write(conn, report_marks, ["target", "name", "value"], part, update=["value"])


def read_sources(conn: Connection, target: str) -> set[str]:
    m = report_marks.c
    row = conn.execute(select(m.value).where(m.target == target, m.name == SOURCES)).first()
    return set(json.loads(row[0])) if row else set()


def write_sources(conn: Connection, target: str, sources: Iterable[str]) -> None:
    value = json.dumps(sorted(set(sources)))
    bulk_write(conn, report_marks, ["target", "name", "value"], [(target, SOURCES, value)], update=["value"])


def all_sources(conn: Connection) -> set[str]:
    return {s for (s,) in conn.execute(select(calls.c.source).distinct())}


SEEN = "ovs:seen"


def read_seen(conn: Connection, target: str) -> set[tuple[str, str, str, int]]:
    m = report_marks.c
    row = conn.execute(select(m.value).where(m.target == target, m.name == SEEN)).first()
    return {(k, s, lk, int(at)) for k, s, lk, at in json.loads(row[0])} if row else set()


def write_seen(conn: Connection, target: str, seen: Iterable[tuple[str, str, str, int]]) -> None:
    value = json.dumps(sorted(seen))
    bulk_write(conn, report_marks, ["target", "name", "value"], [(target, SEEN, value)], update=["value"])


def margin_rows(conn: Connection, margin_us: int) -> set[tuple[str, str, str, int]]:
    """The calls and 1C links stamped within `margin_us` of the newest (what an incremental
    run's scan re-reads), as `read_seen` keeps them."""
    out: set[tuple[str, str, str, int]] = set()
    for kind, table in (("call", calls), ("link", call_links)):
        t = table.c
        top = conn.execute(select(func.max(t.updated_us))).scalar()
        if top is not None:
            rows = conn.execute(
                select(t.source, t.linkedid, t.updated_us).where(t.updated_us > top - margin_us)
            )
            out.update((kind, s, lk, int(at)) for s, lk, at in rows)
    return out
