"""SQL helpers of the ledger: upsert and insert-or-ignore per dialect, the driver-level fast
paths (`bulk_write`, `select_in`, `frame_rows`) and `chunked` for IN lists."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.engine import Connection

S = TypeVar("S", bound=Sequence[Any])

IN_BATCH = 500  # values per IN list: far below every back-end's limit on parameters


def chunked(values: S, size: int = IN_BATCH) -> Iterator[S]:
    """`values` in consecutive slices of at most `size`, each of the type of `values` (a list
    gives lists): for IN lists and batched writes."""
    for i in range(0, len(values), size):
        yield cast(S, values[i : i + size])


def _insert_for(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        return mysql_insert(table)
    raise NotImplementedError(f"no upsert for dialect {name}")


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, leaving any row whose primary key exists untouched."""
    if not rows:
        return
    stmt = _insert_for(conn, table)
    if conn.dialect.name in ("mysql", "mariadb"):
        pk = table.primary_key.columns.values()[0].name
        stmt = stmt.on_duplicate_key_update({pk: stmt.inserted[pk]})
    else:
        stmt = stmt.on_conflict_do_nothing()
    conn.execute(stmt, list(rows))


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], update: Iterable[str]) -> None:
    """Insert rows, or update the `update` columns of the row with the same primary key."""
    if not rows:
        return
    cols = list(update)
    stmt = _insert_for(conn, table)
    if conn.dialect.name in ("mysql", "mariadb"):
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in cols})
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.name for c in table.primary_key.columns],
            set_={c: stmt.excluded[c] for c in cols},
        )
    conn.execute(stmt, list(rows))


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[tuple[Any, Any, str]]:
    """The driver's own cursor in `conn`'s transaction, the dialect's identifier quoting and its
    parameter mark (`?` or `%s`): for the plain-SQL fast paths below."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor, conn.dialect.identifier_preparer.quote, "?" if conn.dialect.name == "sqlite" else "%s"
    finally:
        cursor.close()


def bulk_write(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    update: Sequence[str] = (),
) -> None:
    """Fast path for many rows: one driver-level executemany of plain tuples.

    Rows whose primary key exists are left alone, or get the `update` columns replaced. Skips
    SQLAlchemy's per-row parameter processing, which costs more than the database itself at
    tens of thousands of rows per second (bench/bench_sync.py). SQLite takes `rows` as they
    come (an iterator is never turned into a list: see `frame_rows`)."""
    name = conn.dialect.name
    if name != "sqlite":
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return
    with driver_cursor(conn) as (cursor, q, mark):
        pk = [c.name for c in table.primary_key.columns]
        marks = ", ".join([mark] * len(columns))
        head = f"INSERT INTO {q(table.name)} ({', '.join(map(q, columns))}) VALUES ({marks})"
        if name in ("mysql", "mariadb"):
            sets = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in update) or f"{q(pk[0])} = {q(pk[0])}"
            sql = f"{head} ON DUPLICATE KEY UPDATE {sets}"
        elif update:
            sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update)
            sql = f"{head} ON CONFLICT ({', '.join(map(q, pk))}) DO UPDATE SET {sets}"
        else:
            sql = f"{head} ON CONFLICT ({', '.join(map(q, pk))}) DO NOTHING"
        cursor.executemany(sql, rows)


def select_in(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    key: str,
    values: Iterable[Any],
    where: Mapping[str, Any] | None = None,
    batch: int = IN_BATCH,
) -> Iterator[tuple[Any, ...]]:
    """Rows (as tuples of `columns`) whose `key` is one of `values` and whose `where` columns
    equal the given values, asked in batches of `batch` values.

    Plain driver SQL: SQLAlchemy compiles an IN list of literals anew for every statement,
    which cost more than SQLite's look-ups themselves (~6 µs per row of a first sync)."""
    fixed = list((where or {}).items())
    pending = list(values)
    with driver_cursor(conn) as (cursor, q, mark):
        conditions = "".join(f"{q(c)} = {mark} AND " for c, _ in fixed)
        head = f"SELECT {', '.join(map(q, columns))} FROM {q(table.name)} WHERE {conditions}{q(key)} IN "
        for part in chunked(pending, batch):
            cursor.execute(head + f"({', '.join([mark] * len(part))})", [*(v for _, v in fixed), *part])
            yield from cursor.fetchall()


def frame_rows(
    frame: Any, table: Table, columns: Sequence[str], constants: Mapping[str, Any] | None = None
) -> Iterator[tuple[Any, ...]]:
    """Rows of a DataFrame as tuples of plain Python values (NA → None) for `bulk_write` into
    `table`; `constants` gives a value for columns the frame does not have.

    Column by column (`tolist` is C-level), zipped lazily: the driver takes each tuple as it is
    made, and `zip` reuses a tuple nobody kept, so no list of n tuples is ever built (SQLite,
    FreePBX rows: ~1.6 µs a row less than a list). Only columns the table lets be NULL are
    searched for missing values (a NOT NULL column with one fails the insert either way)."""
    nullable = {c.name for c in table.columns if c.nullable}
    lists: list[Iterable[Any]] = []
    for c in columns:
        if constants and c in constants:
            lists.append(itertools.repeat(constants[c], len(frame)))
            continue
        col = frame[c]
        if c in nullable and col.hasnans:
            col = col.astype(object).where(col.notna(), None)
        lists.append(col.to_numpy().tolist())
    return zip(*lists, strict=True)
