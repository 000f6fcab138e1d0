"""Reading the ledger for the reports: calls, their 1C links and recordings, the 1C directory
(clients, phones, managers, employees), caller-ID names and the change watermarks (the problem
tables of the reconciliation and quality pages are read in `problems`).

Reads are set-based (one query, or one query per chunk of keys), never one query per client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, select, tuple_
from sqlalchemy.engine import Connection

from etl.ledger.sql import chunked
from etl.ledger.tables import (
    call_links,
    calls,
    cdr_rows,
    client_phones,
    clients,
    employees,
    events,
    recording_links,
    recordings,
)

from .figures import CALL_COLUMNS


@dataclass
class Directory:
    """The 1C side as cached in the ledger."""

    names: dict[str, str] = field(default_factory=dict)  # client ref → name
    managers: dict[str, str] = field(default_factory=dict)  # client ref → manager's name
    phones: dict[str, list[str]] = field(default_factory=dict)  # client ref → E.164 numbers
    owners: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["phone", "client_ref"]))
    by_extension: dict[str, str] = field(default_factory=dict)  # extension → employee name

    @property
    def empty(self) -> bool:
        return not self.names

    def fingerprint(self, ref: str) -> str:
        # repr of a tuple of str/None/list is unambiguous and ~3× cheaper than json.dumps
        # (the dirty check takes it for every client on every run)
        text = repr((self.names.get(ref), self.managers.get(ref), self.phones.get(ref, [])))
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()

    def fingerprints(self) -> Iterable[tuple[str, str]]:
        """(ref, `fingerprint(ref)`) of every client, without a method call and three lookups
        per client (~0.015 s of the 20,000-client check)."""
        managers, phones, blake2b = self.managers, self.phones, hashlib.blake2b
        for ref, name in self.names.items():
            text = repr((name, managers.get(ref), phones.get(ref, [])))
            yield ref, blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()

    def owners_of(self, numbers: Iterable[str]) -> set[str]:
        wanted = set(numbers)
        hit = self.owners[self.owners["phone"].isin(wanted)]
        return set(hit["client_ref"])


def read_directory(conn: Connection) -> Directory:
    d = Directory()
    staff = {ref: name for ref, name in conn.execute(select(employees.c.ref_key, employees.c.name))}
    for ext, name in conn.execute(
        select(employees.c.extension, employees.c.name).where(employees.c.extension.is_not(None))
    ):
        if ext:
            d.by_extension[str(ext)] = name
    for ref, name, manager in _fetch(conn, select(clients.c.ref_key, clients.c.name, clients.c.manager_ref)):
        d.names[ref] = name
        if manager and manager in staff:
            d.managers[ref] = staff[manager]
    pairs = _fetch(
        conn,
        select(client_phones.c.phone, client_phones.c.client_ref).order_by(
            client_phones.c.client_ref, client_phones.c.phone
        ),
    )
    for phone, ref in pairs:
        d.phones.setdefault(ref, []).append(phone)
    d.owners = pd.DataFrame(pairs, columns=["phone", "client_ref"])
    return d


def read_calls(
    conn: Connection,
    *,
    since_us: int | None,
    until_us: int | None,
    numbers: Sequence[str] | None = None,
    keys: Sequence[tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Calls with an external number, in the window; all of them, or those of `numbers`, or
    those with these (source, linkedid) keys."""
    cols = [calls.c[c] for c in CALL_COLUMNS]
    base = select(*cols).where(calls.c.external_number.is_not(None), calls.c.external_number != "")
    if since_us is not None:
        base = base.where(calls.c.start_us >= since_us)
    if until_us is not None:
        base = base.where(calls.c.start_us < until_us)
    rows: list[Any] = []
    if numbers is None and keys is None:
        rows = list(_fetch(conn, base))
    else:
        for chunk in chunked(sorted(numbers or ())):
            rows.extend(_fetch(conn, base.where(calls.c.external_number.in_(chunk))))
        for kchunk in chunked(sorted(keys or ())):
            rows.extend(_fetch(conn, base.where(tuple_(calls.c.source, calls.c.linkedid).in_(kchunk))))
    frame = pd.DataFrame(rows, columns=list(CALL_COLUMNS))
    if keys is not None and numbers is not None:
        frame = frame.drop_duplicates(["source", "linkedid"])
    return frame


def _fetch(conn: Connection, stmt: Any) -> list[Any]:
    """Rows as plain tuples via the driver (SQLAlchemy's Row objects cost more than the query)."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    result = conn.exec_driver_sql(str(compiled), _params(compiled))
    try:  # the DB-API cursor's own tuples: pandas probes Row objects per row (~0.5 µs each)
        return list(result.cursor.fetchall()) if result.cursor is not None else []
    finally:
        result.close()


def _params(compiled: Any) -> Any:
    names = compiled.positiontup
    if names is not None:
        return tuple(compiled.params[n] for n in names)
    return compiled.params


def read_links(conn: Connection, keys: Sequence[tuple[str, str]] | None) -> pd.DataFrame:
    """onec_call_links for these calls (all when `keys` is None): client_ref, event_ref, status."""
    cols = ["source", "linkedid", "client_ref", "event_ref", "status"]
    stmt = select(*[call_links.c[c] for c in cols])
    rows: list[Any] = []
    if keys is None:
        rows = list(_fetch(conn, stmt))
    else:
        for chunk in chunked(sorted(keys)):
            rows.extend(
                _fetch(conn, stmt.where(tuple_(call_links.c.source, call_links.c.linkedid).in_(chunk)))
            )
    return pd.DataFrame(rows, columns=cols)


def has_links(conn: Connection) -> bool:
    return conn.execute(select(call_links.c.linkedid).limit(1)).first() is not None


def linked_to(conn: Connection, client_refs: Sequence[str]) -> list[tuple[str, str]]:
    """Calls whose 1C event names one of these clients."""
    out: list[tuple[str, str]] = []
    for chunk in chunked(sorted(client_refs)):
        out.extend(
            (s, lk)
            for s, lk in conn.execute(
                select(call_links.c.source, call_links.c.linkedid).where(call_links.c.client_ref.in_(chunk))
            )
        )
    return out


def read_recordings(conn: Connection, keys: Sequence[tuple[str, str]] | None) -> pd.DataFrame:
    """The best readable recording of each call (lowest link rank, then path)."""
    cols = ["source", "linkedid", "relpath", "relpath_b64", "duration", "rank"]
    stmt = (
        select(
            recording_links.c.source,
            recording_links.c.linkedid,
            recordings.c.relpath,
            recordings.c.relpath_b64,
            recordings.c.duration,
            func.min(recording_links.c.rank),
        )
        .join(recordings, recordings.c.path_id == recording_links.c.path_id)
        .where(recordings.c.state == "ok")
        .group_by(
            recording_links.c.source,
            recording_links.c.linkedid,
            recordings.c.path_id,
            recordings.c.relpath,
            recordings.c.relpath_b64,
            recordings.c.duration,
        )
    )
    rows: list[Any] = []
    if conn.execute(select(recording_links.c.path_id).limit(1)).first() is None:
        pass  # nothing linked: no [recordings], or not scanned yet
    elif keys is None:
        rows = list(_fetch(conn, stmt))
    else:
        for chunk in chunked(sorted(keys)):
            rows.extend(
                _fetch(
                    conn, stmt.where(tuple_(recording_links.c.source, recording_links.c.linkedid).in_(chunk))
                )
            )
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        return frame
    frame = frame.sort_values(["source", "linkedid", "rank", "relpath"])
    return frame.drop_duplicates(["source", "linkedid"])


def caller_names(conn: Connection, keys: Sequence[tuple[str, str]] | None) -> dict[str, str]:
    """The latest non-empty caller-ID name seen for each external number (hostile input)."""
    stmt = select(cdr_rows.c.external_number, cdr_rows.c.cnam, cdr_rows.c.calldate_us).where(
        cdr_rows.c.cnam != "", cdr_rows.c.external_number.is_not(None)
    )
    rows: list[Any] = []
    if keys is None:
        rows = list(_fetch(conn, stmt))
    else:
        for chunk in chunked(sorted(keys)):
            rows.extend(_fetch(conn, stmt.where(tuple_(cdr_rows.c.source, cdr_rows.c.linkedid).in_(chunk))))
    best: dict[str, tuple[int, str]] = {}
    for number, name, at in rows:
        if number not in best or at > best[number][0]:
            best[number] = (at, name)
    return {n: v[1] for n, v in best.items()}


def event_numbers(conn: Connection, refs: Sequence[str]) -> dict[str, str]:
    """1C event document numbers, for link texts."""
    out: dict[str, str] = {}
    for chunk in chunked(sorted(set(refs))):
        out.update(
            dict(
                conn.execute(
                    select(events.c.ref_key, events.c.number).where(events.c.ref_key.in_(chunk))
                ).all()
            )
        )
    return out


def watermarks(conn: Connection) -> dict[str, int]:
    """The newest change stamps of what the pages are made of."""
    return {
        "calls": int(conn.execute(select(func.max(calls.c.updated_us))).scalar() or 0),
        "links": int(conn.execute(select(func.max(call_links.c.updated_us))).scalar() or 0),
        "recordings": int(conn.execute(select(func.max(recordings.c.scanned_us))).scalar() or 0),
    }


def changed_numbers(
    conn: Connection,
    marks: dict[str, int],
    margin_us: int,
    changed: list[tuple[str, str, str, int, int]] | None = None,
) -> tuple[set[str], set[str], dict[str, int]]:
    """Numbers whose calls, links or recordings changed since `marks`, the clients that
    changed links name, and the new watermarks. `margin_us` re-reads a little before the
    mark, for a writer whose stamp was taken before our read but committed after it.

    `changed` (when given) collects, for the overview's days, each changed call and each call
    whose 1C link changed (not those whose recording did) as (kind "call" / "link", source,
    linkedid, start_us, the row's updated_us).

    The calls' new watermark comes from the same scan as the changed numbers (`calls` has no
    index on `updated_us`: a separate max() was a second full scan, ~0.07 s at 1M calls)."""
    numbers: set[str] = set()
    refs: set[str] = set()
    since = marks.get("calls", 0) - margin_us
    newest = 0
    c = calls.c
    for n, at, source, lk, start in conn.execute(
        select(c.external_number, c.updated_us, c.source, c.linkedid, c.start_us).where(c.updated_us > since)
    ):
        if at > newest:
            newest = at
        if n is not None:
            numbers.add(n)
            if changed is not None:
                changed.append(("call", source, lk, start, at))
    if not newest:
        newest = conn.execute(select(func.max(calls.c.updated_us))).scalar() or 0
    stamps = {
        "calls": int(newest),
        "links": int(conn.execute(select(func.max(call_links.c.updated_us))).scalar() or 0),
        "recordings": int(conn.execute(select(func.max(recordings.c.scanned_us))).scalar() or 0),
    }
    link_keys: list[tuple[str, str]] = []
    link_stamps: dict[tuple[str, str], int] = {}
    cl = call_links.c
    for s, lk, ref, at in conn.execute(
        select(cl.source, cl.linkedid, cl.client_ref, cl.updated_us).where(
            cl.updated_us > marks.get("links", 0) - margin_us
        )
    ):
        link_keys.append((s, lk))
        link_stamps[(s, lk)] = at
        if ref:
            refs.add(ref)
    rec_paths = [
        p
        for (p,) in conn.execute(
            select(recordings.c.path_id).where(
                recordings.c.scanned_us > marks.get("recordings", 0) - margin_us
            )
        )
    ]
    for chunk in chunked(rec_paths):
        link_keys.extend(
            (s, lk)
            for s, lk in conn.execute(
                select(recording_links.c.source, recording_links.c.linkedid).where(
                    recording_links.c.path_id.in_(chunk)
                )
            )
        )
    for kchunk in chunked(sorted(set(link_keys))):
        for n, source, lk, start in conn.execute(
            select(c.external_number, c.source, c.linkedid, c.start_us).where(
                tuple_(c.source, c.linkedid).in_(kchunk), c.external_number.is_not(None)
            )
        ):
            numbers.add(n)
            at = link_stamps.get((source, lk))
            if changed is not None and at is not None:
                changed.append(("link", source, lk, start, at))
    numbers.discard("")
    return numbers, refs, stamps
