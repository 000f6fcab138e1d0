"""The PBX's `cdr` table: the DDL of sql/cdr/ per dialect and bulk writers for SQLite and servers."""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from etl.cdr_columns import FREEPBX_COLUMNS
from etl.data_files import data_folder

SQL_DIR = data_folder("sql") / "cdr"

# The stock Asterisk (alembic) column order: start/answer/end, no calldate, no FreePBX extras.
ASTERISK_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "userfield",
    "uniqueid",
    "linkedid",
    "peeraccount",
    "sequence",
)


def ddl_text(dialect: str, schema: str = "freepbx") -> str:
    """The CREATE TABLE text for `schema` (freepbx | asterisk) on mysql | postgresql | sqlite."""
    if schema not in ("freepbx", "asterisk"):
        raise ValueError(f"unknown CDR schema {schema!r} (freepbx or asterisk)")
    return (SQL_DIR / f"{schema}.{dialect}.sql").read_text(encoding="utf-8")


def ddl_statements(dialect: str, schema: str = "freepbx") -> list[str]:
    lines = [ln for ln in ddl_text(dialect, schema).splitlines() if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _sql_value(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else value


_AMA_TEXT = {0: "", 1: "OMIT", 2: "BILLING", 3: "DOCUMENTATION"}


def asterisk_row(row: dict[str, Any]) -> tuple[Any, ...]:
    """A FreePBX-shaped row as the stock Asterisk schema stores it (`ASTERISK_COLUMNS`).

    start = calldate, end = start + duration, answer = end - billsec (NULL when billsec is 0),
    amaflags as text: exactly how Asterisk derives duration and billsec from the three times.
    """
    start = row["calldate"]
    end = start + timedelta(seconds=row["duration"])
    answer = end - timedelta(seconds=row["billsec"]) if row["billsec"] else None
    return (
        row["accountcode"], row["src"], row["dst"], row["dcontext"], row["clid"], row["channel"],
        row["dstchannel"], row["lastapp"], row["lastdata"], start, answer, end, row["duration"],
        row["billsec"], row["disposition"], _AMA_TEXT.get(row["amaflags"], str(row["amaflags"])),
        row["userfield"], row["uniqueid"], row["linkedid"], row["peeraccount"], row["sequence"],
    )  # fmt: skip


def _batches(rows: Iterable[dict[str, Any]], convert: Callable[[dict[str, Any]], tuple[Any, ...]],
             size: int) -> Iterator[list[tuple[Any, ...]]]:  # fmt: skip
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(convert(row))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _converter(
    schema: str, text_dates: bool
) -> tuple[tuple[str, ...], Callable[[dict[str, Any]], tuple[Any, ...]]]:
    if schema == "asterisk":
        if not text_dates:
            return ASTERISK_COLUMNS, asterisk_row
        return ASTERISK_COLUMNS, lambda r: tuple(_sql_value(v) for v in asterisk_row(r))
    get = operator.itemgetter(*FREEPBX_COLUMNS)
    if not text_dates:
        return FREEPBX_COLUMNS, get

    def freepbx_text(r: dict[str, Any]) -> tuple[Any, ...]:
        values = get(r)
        return (_sql_value(values[0]), *values[1:])

    return FREEPBX_COLUMNS, freepbx_text


def write_sqlite(
    path: Path, rows: Iterable[dict[str, Any]], *, schema: str = "freepbx", batch: int = 5000
) -> int:
    """Create the `cdr` table in the SQLite file `path` (if missing) and insert `rows`; count."""
    columns, convert = _converter(schema, text_dates=True)
    names = ", ".join(_quote(c, "sqlite") for c in columns)
    insert = f"INSERT INTO cdr ({names}) VALUES ({', '.join('?' * len(columns))})"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        for statement in ddl_statements("sqlite", schema):
            con.execute(statement)
        n = 0
        for chunk in _batches(rows, convert, batch):
            con.executemany(insert, chunk)
            n += len(chunk)
        con.commit()
        return n
    finally:
        con.close()


def _quote(column: str, dialect: str) -> str:
    if column != "end":
        return column
    return "`end`" if dialect == "mysql" else '"end"'


def write_sql(url: str, rows: Iterable[dict[str, Any]], *, schema: str = "freepbx", batch: int = 5000) -> int:
    """Create the `cdr` table at a SQLAlchemy `url` from the dialect's DDL file and bulk-insert.

    MariaDB/MySQL: pymysql's executemany (one multi-row INSERT per batch); PostgreSQL: COPY;
    SQLite: executemany. One commit per batch, so memory stays flat for any number of rows.
    """
    from sqlalchemy import create_engine

    engine = create_engine(url)
    name = engine.dialect.name
    dialect = {
        "mariadb": "mysql",
        "mysql": "mysql",
        "postgresql": "postgresql",
        "sqlite": "sqlite",
    }.get(name)
    if dialect is None:
        raise ValueError(f"no CDR DDL for the {name} dialect")
    columns, convert = _converter(schema, text_dates=dialect == "sqlite")
    names = ", ".join(_quote(c, dialect) for c in columns)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    insert = f"INSERT INTO cdr ({names}) VALUES ({', '.join([mark] * len(columns))})"
    n = 0
    try:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            for statement in ddl_statements(dialect, schema):
                cur.execute(statement)
            raw.commit()
            for chunk in _batches(rows, convert, batch):
                if dialect == "postgresql":
                    with cur.copy(f"COPY cdr ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                        for values in chunk:
                            copy.write_row(values)
                else:
                    cur.executemany(insert, chunk)
                raw.commit()
                n += len(chunk)
            cur.close()
        finally:
            raw.close()
    finally:
        engine.dispose()
    return n
