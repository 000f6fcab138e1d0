"""The scan's journal of files it added, changed, re-tagged or removed (`recording_changes`),
written in the scan's own transactions and read by the next link of each source: a file can
only change the links of the calls whose rows name its stem or path, carry its uniqueid, or
are linked to it already (`_calls_reached` in etl/recordings/linker.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.engine import Connection

from etl.ledger.tables import recording_changes, recording_link_marks, recording_links, recordings


def note_files(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Files as the scan now stores them (rows of `recordings`, or path_id/stem/uniqueid)."""
    notes = [{"path_id": r["path_id"], "stem": r["stem"], "uniqueid": r["uniqueid"]} for r in rows]
    if notes:
        conn.execute(insert(recording_changes), notes)


def note_removed(conn: Connection, ids: list[str]) -> None:
    """Files about to leave the index, as they were, once per call linked to them: the stem
    and uniqueid still find the rows that named them, and the calls that had them are known
    once their links are gone."""
    r, lk = recordings.c, recording_links.c
    conn.execute(
        insert(recording_changes).from_select(
            ["path_id", "stem", "uniqueid", "source", "linkedid"],
            select(r.path_id, r.stem, r.uniqueid, lk.source, lk.linkedid)
            .select_from(recordings.outerjoin(recording_links, lk.path_id == r.path_id))
            .where(r.path_id.in_(ids))
            .distinct(),
        )
    )


def last_seq(conn: Connection) -> int:
    return int(
        conn.execute(select(func.coalesce(func.max(recording_changes.c.seq), literal(0)))).scalar_one()
    )


@dataclass(frozen=True)
class Change:
    seq: int
    path_id: str
    stem: str
    uniqueid: str | None
    source: str | None  # a removed file's link: the source and call that lost it
    linkedid: str | None


def since(conn: Connection, seq: int) -> list[Change]:
    """The changes after `seq`."""
    c = recording_changes.c
    stmt = select(c.seq, c.path_id, c.stem, c.uniqueid, c.source, c.linkedid).where(c.seq > seq)
    return [Change(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(stmt)]


def trim(conn: Connection) -> None:
    """Forget the changes every source with a mark has linked, but the last one: its number
    stays taken, so no back-end hands it out again (SQLite reuses the highest rowid freed)."""
    done = conn.execute(select(func.min(recording_link_marks.c.change_seq))).scalar_one()
    if done is not None:
        conn.execute(delete(recording_changes).where(recording_changes.c.seq < int(done)))
