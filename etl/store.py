"""The ledger (local state store): any SQLAlchemy database, SQLite file by default.

Tables are SQLAlchemy Core objects on one `metadata`; stage modules that need their own
tables (outbox, recordings, reconciliation, …) define them on this same `metadata` and are
listed in `etl.schema`, which `Ledger.open()` imports before creating missing tables.

Times of calls and rows are stored as integer microseconds since the epoch, UTC (`*_us`
columns): unambiguous, identical on every back-end, and cheap to write in bulk. Bookkeeping
times (runs, cursors) use `UTCDateTime`, which returns aware UTC datetimes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from etl.errors import SourceUnreachable, StoreUnreachable
from etl.secrets import mask_url

metadata = MetaData()
SQLITE_HEADER = b"SQLite format 3\x00"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out; stored naive UTC (portable across back-ends)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# FreePBX's `cdr` columns in FreePBX's order (docs/reference/asterisk.md §1.2; FPBX-cdr functions.inc.php).
FREEPBX_COLUMNS = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
    "did",
    "recordingfile",
    "cnum",
    "cnam",
    "outbound_cnum",
    "outbound_cnam",
    "dst_cnam",
    "linkedid",
    "peeraccount",
    "sequence",
)
CDR_INT_COLUMNS = ("duration", "billsec", "sequence")
# The text columns, in the same order (the order of the content hash and of the ledger table).
CDR_TEXT_COLUMNS = tuple(c for c in FREEPBX_COLUMNS if c not in ("calldate", *CDR_INT_COLUMNS))
DERIVED_COLUMNS = ("direction", "external_number", "extension")

cdr_rows = Table(
    "cdr_rows",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_id", String(200), primary_key=True),
    Column("content_hash", String(32), nullable=False),
    Column("calldate_us", BigInteger, nullable=False),
    Column("answer_us", BigInteger),
    Column("end_us", BigInteger),
    *[
        Column(name, String(150) if name in ("uniqueid", "linkedid") else Text, nullable=False, default="")
        for name in CDR_TEXT_COLUMNS
    ],
    Column("duration", Integer, nullable=False),
    Column("billsec", Integer, nullable=False),
    Column("sequence", Integer),
    Column("direction", String(10), nullable=False),
    Column("external_number", String(32)),
    Column("extension", String(32)),
    Column("loaded_us", BigInteger, nullable=False),
    Index("ix_cdr_rows_calldate", "source", "calldate_us"),
    Index("ix_cdr_rows_linkedid", "source", "linkedid"),
    Index("ix_cdr_rows_uniqueid", "source", "uniqueid"),
)

calls = Table(
    "calls",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("linkedid", String(150), primary_key=True),
    Column("start_us", BigInteger, nullable=False),
    Column("answer_us", BigInteger),
    Column("end_us", BigInteger, nullable=False),
    Column("wait", Integer, nullable=False),
    Column("talk", Integer, nullable=False),
    Column("direction", String(10), nullable=False),
    Column("external_number", String(32)),
    Column("extension", String(32)),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("legs", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_calls_start", "source", "start_us"),
    Index("ix_calls_number", "external_number"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String(100), primary_key=True),  # a source name, or a backfill's resume key
    Column("column", String(32), nullable=False),
    Column("value", String(200), nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("row_key", String(32), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("run_id", Integer),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(32), nullable=False),
    Column("started", UTCDateTime, nullable=False),
    Column("finished", UTCDateTime),
    Column("status", String(16), nullable=False),
    Column("exit_code", Integer),
    Column("summary", Text, nullable=False, default="{}"),
    Index("ix_runs_job", "job", "started"),
)


def now_utc() -> datetime:
    return datetime.now(UTC)


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names; None for servers and in-memory databases."""
    parsed = make_url(url)
    db = parsed.database
    if parsed.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


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
    batch: int = 500,
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
        for i in range(0, len(pending), batch):
            part = pending[i : i + batch]
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
        import etl.schema  # noqa: F401  (registers every stage's tables on `metadata`)

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
