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
from urllib.parse import quote

from sqlalchemy import Engine, Table, create_engine, event, func, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from etl.errors import LedgerMissing, SourceUnreachable, StoreUnreachable
from etl.ledger.sql import upsert
from etl.ledger.tables import cursors, metadata, runs
from etl.secrets import mask_url
from etl.urls import parse_db_url

SQLITE_HEADER = b"SQLite format 3\x00"


def now_utc() -> datetime:
    return datetime.now(UTC)


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names; None for servers, in-memory databases and URLs that are
    not URLs (opening them reports why)."""
    parsed = parse_db_url(url)
    name = parsed.sqlite_file() if parsed is not None else None
    return Path(name) if name else None


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An engine with the project's defaults: pure-Python drivers unless the URL names one,
    SQLite in WAL mode with its folder created, pool pre-ping for servers.

    `read_only` (a CDR source): an SQLite file is opened with `mode=ro`, in the journal mode its
    owner chose; a missing file is an error, never an empty database."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None and read_only:
            if not path.is_file():
                raise SourceUnreachable(f"SQLite database {path} does not exist")
            uri = "file:" + quote(str(path))
            parsed = parsed.set(database=uri).update_query_dict({"mode": "ro", "uri": "true"})
        elif path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            if not read_only:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: index inserts of a large first sync
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.close()

        return engine
    if parsed.get_backend_name() == "mysql":
        parsed = parsed.update_query_dict({"charset": parsed.query.get("charset", "utf8mb4")})
        if parsed.get_driver_name() == "pymysql" and parsed.password:
            # PyMySQL encodes a str password as latin-1 (a Cyrillic one fails); the server and
            # mysqlclient take the UTF-8 bytes
            args = {**kwargs.pop("connect_args", {}), "password": str(parsed.password).encode()}
            kwargs["connect_args"] = args
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


class Ledger:
    """The state store: opening, schema, transactions and the shared bookkeeping."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Ledger:
        try:
            engine = make_engine(url)
        except SQLAlchemyError as exc:
            raise StoreUnreachable(mask_url(url), _short(exc)) from None
        ledger = cls(engine)
        try:
            if create:
                ledger.create_schema()
            return ledger
        except BaseException as exc:
            engine.dispose()  # a ledger that failed to open keeps no connection
            if isinstance(exc, SQLAlchemyError):
                raise StoreUnreachable(mask_url(url), _short(exc)) from None
            raise

    @classmethod
    def open_existing(cls, url: str) -> Ledger:
        """The ledger at `url` for a command that only reads it; LedgerMissing, with nothing
        created (no file, no folder, no table), when none is there. An existing ledger still
        gets the tables and indexes a later version added, as `open` gives them."""
        path = sqlite_file(url)
        if path is not None and not path.is_file():
            raise LedgerMissing(mask_url(url))
        ledger = cls.open(url, create=False)
        try:
            if not inspect(ledger.engine).has_table(runs.name):
                raise LedgerMissing(mask_url(url))
            ledger.create_schema()
        except SQLAlchemyError as exc:
            ledger.close()
            raise StoreUnreachable(mask_url(url), _short(exc)) from None
        except BaseException:
            ledger.close()
            raise
        return ledger

    @staticmethod
    def probe(url: str) -> str:
        """Reach the ledger and create or change nothing (`cdr1c check`); say what was found.

        A server is connected to. An SQLite file is only read: opening a WAL database, even
        read-only, leaves -wal and -shm files beside it."""
        path = sqlite_file(url)
        if path is None:
            try:
                engine = make_engine(url)
                try:
                    with engine.connect():
                        pass
                finally:
                    engine.dispose()
            except SQLAlchemyError as exc:
                raise StoreUnreachable(mask_url(url), _short(exc)) from None
            return mask_url(url)
        if not path.exists():
            return f"{path} does not exist yet, `cdr1c sync` will create it"
        try:
            with path.open("rb") as fh:
                header = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreUnreachable(str(path), exc.strerror or str(exc)) from None
        if header and header != SQLITE_HEADER:
            raise StoreUnreachable(str(path), "the file is not an SQLite database")
        return str(path)

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
