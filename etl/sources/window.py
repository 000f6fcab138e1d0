"""The look-back window of an SQL source, fingerprinted: does a sync have anything to do?

A sync re-reads the rows from its cursor minus the look-back window on (Asterisk writes a row at
hang-up, so rows turn up behind the newest). When nothing changed, that is all a run from cron
does, and normalising those rows needs pandas, SQLAlchemy and the rest: ~1 s of imports for
0.06 s of work. Here the same window is read with the driver alone and reduced to one digest:
the rows' values as the driver gives them, order-free (rows tied on the cursor column may come
in any order), with the settings that shape normalisation. The sync stores the digest it took
*before* a full read that changed nothing (etl/sync.py); a later run that finds the same digest
for the same cursor knows the ledger holds every row of the window already (jobs/sync_noop.py).

Only the standard library and the source's driver are imported, and only URLs this module
fully understands are handled (`WindowQuery.from_url` gives None otherwise: the full path runs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from etl.urls import parse_db_url

# When the cursor is an auto-increment id, rows may commit slightly out of id order under
# concurrent inserts: re-read this many ids behind the cursor (etl/sources/sql.py uses it too).
ID_LOOKBACK = 1000
ADDTIME_LOOKBACK = timedelta(minutes=10)
_MYSQL_DRIVERS = {"": "pymysql", "pymysql": "pymysql", "mysqldb": "mysqldb"}
_PG_DRIVERS = {"", "psycopg"}


def settings_key(settings: Any) -> str:
    """The source's settings (a `SourceSettings`) as text: a digest taken under other settings
    (time zone, contexts, look-back, identity…) never matches."""
    from dataclasses import asdict

    return repr(sorted(asdict(settings).items()))


def window_start(cursor_column: str, cursor: str, lookback: timedelta) -> int | datetime:
    """Where a sync with this cursor starts reading (the cursor minus the look-back window)."""
    if cursor_column == "id":
        return max(0, int(cursor) - ID_LOOKBACK)
    back = lookback if cursor_column != "addtime" else min(lookback, ADDTIME_LOOKBACK)
    return datetime.fromisoformat(cursor) - back


@dataclass(frozen=True)
class WindowQuery:
    """How to reach a source's table with its own driver: dialect, driver and connect args."""

    dialect: str  # mysql | postgresql | sqlite
    driver: str
    connect: tuple[tuple[str, Any], ...]

    @classmethod
    def from_url(cls, url: str) -> WindowQuery | None:
        """The query for a source URL, or None where this module cannot be sure to connect as
        SQLAlchemy would (another driver, unusual query options)."""
        parsed = parse_db_url(url)  # as SQLAlchemy reads it: percent-encoded parts decoded
        if parsed is None:
            return None
        backend, _, driver = parsed.drivername.partition("+")
        query = dict(parse_qsl(parsed.query or ""))
        database = parsed.database or ""
        if backend == "sqlite":
            local = not driver and not query and parsed.host is None
            if not local or database in ("", ":memory:") or database.startswith("file:"):
                return None
            return cls("sqlite", "sqlite3", (("path", database),))
        common: dict[str, Any] = {
            "host": parsed.host or "localhost",
            "user": parsed.username or None,
            "password": parsed.password or "",
        }
        if backend in ("mysql", "mariadb") and driver in _MYSQL_DRIVERS and set(query) <= {"charset"}:
            args = {**common, "port": parsed.port or 3306, "database": database}
            args["charset"] = query.get("charset", "utf8mb4")
            return cls("mysql", _MYSQL_DRIVERS[driver], tuple(args.items()))
        if backend in ("postgresql", "postgres") and driver in _PG_DRIVERS and not query:
            args = {**common, "port": parsed.port or 5432, "dbname": database}
            return cls("postgresql", "psycopg", tuple((k, v) for k, v in args.items() if v is not None))
        return None

    def _connect(self) -> Any:
        args = dict(self.connect)
        if self.driver == "sqlite3":
            import sqlite3
            from urllib.parse import quote

            return sqlite3.connect(f"file:{quote(args['path'])}?mode=ro", uri=True, timeout=30)
        if self.driver == "pymysql":
            import pymysql

            if args["password"]:  # as etl.ledger.store.make_engine: the UTF-8 bytes
                args["password"] = str(args["password"]).encode()
            return pymysql.connect(**args)
        if self.driver == "mysqldb":
            import MySQLdb  # type: ignore[import-not-found,unused-ignore]

            if args["user"] is None:
                args.pop("user")
            return MySQLdb.connect(**args)
        import psycopg

        return psycopg.connect(**args)

    def fingerprint(
        self, table: str, column: str, start: int | datetime, settings_key: str
    ) -> tuple[int, str]:
        """(rows, digest) of every row whose `column` ≥ `start`: what a sync would read."""
        quote = (lambda n: f"`{n.replace('`', '``')}`") if self.dialect == "mysql" else _double_quoted
        mark = "?" if self.dialect == "sqlite" else "%s"
        bound: Any = start.strftime("%Y-%m-%d %H:%M:%S") if self.dialect == "sqlite" and isinstance(
            start, datetime
        ) else start  # fmt: skip
        sql = f"SELECT * FROM {quote(table)} WHERE {quote(column)} >= {mark}"
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, (bound,))
            rows = cur.fetchall()
            cur.close()
        finally:
            conn.close()
        return len(rows), digest(rows, settings_key)


def digest(rows: Sequence[Sequence[Any]], settings_key: str) -> str:
    """One digest of rows in any order: each row's values (their type and text) hashed, the
    row digests sorted and hashed with `settings_key`."""
    blake = hashlib.blake2b
    each = sorted(blake(repr(tuple(r)).encode("utf-8", "surrogatepass"), digest_size=16).digest()
                  for r in rows)  # fmt: skip
    top = blake(settings_key.encode("utf-8", "surrogatepass"), digest_size=16)
    for d in each:
        top.update(d)
    return top.hexdigest()


def _double_quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
