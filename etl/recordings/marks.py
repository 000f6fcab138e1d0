"""What the link of a source has seen (`recording_link_marks`), so the next run relinks only
what changed since: rows loaded after `loaded_us`, files the scan noted after `change_seq`."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import RecordingsSettings
from etl.ledger.sql import upsert
from etl.ledger.tables import cdr_rows, recording_link_marks

# Raised when what a link derives from the same rows and files changes (new evidence, another
# problem text): every source is then rebuilt once.
LINK_VERSION = 1


@dataclass
class Mark:
    loaded_us: int  # the newest cdr_rows.loaded_us linked
    change_seq: int  # the last recording_changes.seq linked
    fingerprint: str  # the settings the links were made with
    calls: int  # the source's calls with at least one recording
    first_us: int | None  # the orphan window's start when the orphans were last found


def fingerprint(settings: RecordingsSettings) -> str:
    """What the links depend on besides rows and files: the root and pbx_root (how CDR paths
    map), the name pattern (uniqueids in names) and the duration tolerance."""
    text = repr(
        (
            LINK_VERSION,
            str(settings.root),
            settings.pbx_root,
            settings.name_pattern,
            float(settings.duration_tolerance),
        )
    )
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def read(conn: Connection, source: str) -> Mark | None:
    c = recording_link_marks.c
    r = conn.execute(
        select(c.loaded_us, c.change_seq, c.fingerprint, c.calls, c.first_us).where(c.source == source)
    ).first()
    if r is None:
        return None
    return Mark(int(r[0]), int(r[1]), r[2], int(r[3]), None if r[4] is None else int(r[4]))


def write(conn: Connection, source: str, mark: Mark) -> None:
    row = {"source": source, **asdict(mark), "linked_us": now_us()}
    upsert(conn, recording_link_marks, [row], update=[k for k in row if k != "source"])


def newest_loaded(conn: Connection, source: str) -> int:
    value = conn.execute(
        select(func.max(cdr_rows.c.loaded_us)).where(cdr_rows.c.source == source)
    ).scalar_one()
    return int(value) if value is not None else 0


def first_call_us(conn: Connection) -> int | None:
    """The earliest call of the linked sources (one index lookup per source): files recorded
    before it are not orphans. It only moves back, as rows and sources are added."""
    first: int | None = None
    for source in conn.execute(select(recording_link_marks.c.source)).scalars():
        value = conn.execute(
            select(func.min(cdr_rows.c.calldate_us)).where(cdr_rows.c.source == source)
        ).scalar_one()
        if value is not None and (first is None or int(value) < first):
            first = int(value)
    return first


def set_first(conn: Connection, sources: list[str], first: int | None) -> None:
    """The orphan window the orphans are now found with (by the run of `sources`)."""
    c = recording_link_marks.c
    conn.execute(recording_link_marks.update().where(c.source.in_(sources)).values(first_us=first))


def total_calls(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(recording_link_marks.c.calls), 0))).scalar_one())
