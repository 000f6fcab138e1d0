"""The outbox of register records waiting for 1C, what 1C holds, and the dead letters.

- `onec_outbox`: one row per CDR row that may need sending. The sync calls `enqueue` in the
  same transaction that inserts the CDR rows, so a row can never be in the ledger without
  being queued. Enqueueing is idempotent; enqueueing a delivered row again is how a change of
  its derived fields (event, client, recording) is signalled: the push rebuilds the record and
  sends it only if its content hash differs from what 1C was last given.
- `onec_delivered`: the content hash of the record 1C holds for each row.
- `onec_dead_letters`: records 1C rejected for their content (4xx other than "key exists"),
  with 1C's status, code and message and the record itself, for a human to read.

A row leaves the outbox only in the transaction that records its outcome (delivered or dead);
transport failures leave it queued with a back-off, so no row is ever lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, delete, func, select, tuple_
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.ledger.sql import chunked, insert_ignore, upsert
from etl.ledger.tables import dead_letters, delivered, outbox


def enqueue(conn: Connection, source: str, row_ids: list[str]) -> None:
    """Queue these rows of `source` for the push (idempotent; call inside the sync's transaction)."""
    if not row_ids:
        return
    t = now_us()
    rows = [
        {"source": source, "row_id": r, "enqueued_us": t, "attempts": 0, "next_try_us": 0} for r in row_ids
    ]
    for part in chunked(rows, 1000):
        insert_ignore(conn, outbox, part)


def pending_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


def counts(conn: Connection) -> dict[str, int]:
    """`{"pending", "delivered", "dead"}` for `cdr1c status`."""
    return {
        "pending": pending_count(conn),
        "delivered": int(conn.execute(select(func.count()).select_from(delivered)).scalar_one()),
        "dead": int(conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()),
    }


def due_batch(conn: Connection, after: tuple[str, str] | None, limit: int, now: int) -> list[tuple[str, str]]:
    """The next `limit` due outbox keys past `after` (keyset order, so a run visits each once)."""
    stmt = select(outbox.c.source, outbox.c.row_id).where(outbox.c.next_try_us <= now)
    if after is not None:
        stmt = stmt.where(tuple_(outbox.c.source, outbox.c.row_id) > tuple_(*after))
    stmt = stmt.order_by(outbox.c.source, outbox.c.row_id).limit(limit)
    return [(r[0], r[1]) for r in conn.execute(stmt)]


def delivered_hashes(conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    out: dict[tuple[str, str], str] = {}
    for source, ids in _by_source(keys).items():
        for part in chunked(ids):
            stmt = select(delivered.c.row_id, delivered.c.record_hash).where(
                delivered.c.source == source, delivered.c.row_id.in_(part)
            )
            out.update({(source, r[0]): r[1] for r in conn.execute(stmt)})
    return out


def mark_delivered(conn: Connection, items: Sequence[tuple[str, str, str]]) -> None:
    """(source, row_id, record_hash) delivered: remember the hash, leave the outbox."""
    if not items:
        return
    t = now_us()
    upsert(
        conn,
        delivered,
        [{"source": s, "row_id": r, "record_hash": h, "delivered_us": t} for s, r, h in items],
        update=("record_hash", "delivered_us"),
    )
    keys = [(s, r) for s, r, _ in items]
    _delete(conn, outbox, keys)
    _delete(conn, dead_letters, keys)


def mark_dead(conn: Connection, items: Sequence[dict[str, Any]]) -> None:
    """Dead letters: dicts with source, row_id, record_hash, status, code, message, record."""
    if not items:
        return
    t = now_us()
    upsert(
        conn,
        dead_letters,
        [{**i, "dead_us": t} for i in items],
        update=("record_hash", "status", "code", "message", "record", "dead_us"),
    )
    _delete(conn, outbox, [(i["source"], i["row_id"]) for i in items])


def mark_retry(conn: Connection, items: Sequence[tuple[str, str, str]], next_try_us: int) -> None:
    """(source, row_id, error) stays queued; tried again after `next_try_us`."""
    for s, r, err in items:
        conn.execute(
            outbox.update()
            .where(outbox.c.source == s, outbox.c.row_id == r)
            .values(attempts=outbox.c.attempts + 1, next_try_us=next_try_us, last_error=err[:2000])
        )


def drop(conn: Connection, keys: Sequence[tuple[str, str]]) -> None:
    """Leave the outbox without sending (content unchanged, or the row is gone)."""
    _delete(conn, outbox, keys)


def _by_source(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s, r in keys:
        out.setdefault(s, []).append(r)
    return out


def _delete(conn: Connection, table: Table, keys: Sequence[tuple[str, str]]) -> None:
    for source, ids in _by_source(keys).items():
        for part in chunked(ids):
            conn.execute(delete(table).where(table.c.source == source, table.c.row_id.in_(part)))
