"""The ledger (local state store): any SQLAlchemy database, SQLite file by default.

`make_engine` sets up an engine with the project's defaults; `Ledger` opens the store, creates
missing tables and indexes (every table is in `etl.ledger.tables`), and keeps the shared
bookkeeping: cursors, runs, counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from etl.errors import SourceUnreachable
from etl.ledger.sql import upsert
from etl.ledger.tables import cursors, metadata, runs
from etl.secrets import mask_url


def now_utc() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the project's defaults: pure-Python drivers unless the URL names one,
    SQLite in WAL mode with its folder created, pool pre-ping for servers."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: index inserts of a large first sync
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.close()

        return engine
    if parsed.get_backend_name() == "mysql":
        parsed = parsed.update_query_dict({"charset": parsed.query.get("charset", "utf8mb4")})
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


class Ledger:
    """The state store: opening, schema, transactions and the shared bookkeeping."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Ledger:
        try:
            engine = make_engine(url)
            ledger = cls(engine)
            if create:
                ledger.create_schema()
            return ledger
        except SQLAlchemyError as exc:
            raise SourceUnreachable(f"state store {mask_url(url)}: {_short(exc)}") from None

    def create_schema(self) -> None:
        metadata.create_all(self.engine)
        # an index added in a later version reaches ledgers whose tables already exist
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- cursors --------------------------------------------------------------------------
    def get_cursor(self, source: str) -> tuple[str, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(cursors.c.column, cursors.c.value).where(cursors.c.source == source)
            ).first()
        return (row[0], row[1]) if row else None

    @staticmethod
    def set_cursor(conn: Connection, source: str, column: str, value: str) -> None:
        upsert(
            conn,
            cursors,
            [{"source": source, "column": column, "value": value, "updated": now_utc()}],
            update=("column", "value", "updated"),
        )

    # --- runs -----------------------------------------------------------------------------
    def start_run(self, job: str) -> int:
        with self.begin() as conn:
            result = conn.execute(
                runs.insert().values(job=job, started=now_utc(), status="running", summary="{}")
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(self, run_id: int, status: str, exit_code: int, summary: Mapping[str, Any]) -> None:
        with self.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    finished=now_utc(),
                    status=status,
                    exit_code=exit_code,
                    summary=json.dumps(summary, ensure_ascii=False, default=str),
                )
            )

    def last_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings().all()
        out = []
        for r in rows:
            d = dict(r)
            d["summary"] = json.loads(d["summary"] or "{}")
            out.append(d)
        return out

    # --- counts ---------------------------------------------------------------------------
    def count(self, table: Table, **where: Any) -> int:
        stmt = select(func.count()).select_from(table)
        for k, v in where.items():
            stmt = stmt.where(table.c[k] == v)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return mask_url(text.splitlines()[0] if text else type(exc).__name__)
