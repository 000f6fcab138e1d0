"""The real Asterisk 22 capture (tests/fixtures/asterisk22-capture1) as test data.

`capture_rows()` parses the mysqldump's INSERT into dicts (MySQL escapes honoured), and
`load_cdr(url)` writes them into a FreePBX-shaped `cdr` table on any back-end, so the same
test can read the real rows from MariaDB, PostgreSQL and SQLite.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine

from tests.conftest import CAPTURE

_ESC = {"0": "\0", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "\\": "\\", "'": "'", '"': '"'}


def _create_columns(sql: str) -> list[tuple[str, str]]:
    body = sql.split("CREATE TABLE `cdr` (", 1)[1].split(") ENGINE", 1)[0]
    return [(m[1], m[2].lower()) for m in re.finditer(r"^\s*`(\w+)` (\w+)", body, re.M)]


def _values(text: str) -> list[list[Any]]:
    rows: list[list[Any]] = []
    i, n = 0, len(text)
    row: list[Any] | None = None
    while i < n:
        ch = text[i]
        if ch == "(" and row is None:
            row = []
            i += 1
        elif ch == ")" and row is not None:
            rows.append(row)
            row = None
            i += 1
        elif row is not None and ch == "'":
            i += 1
            out = []
            while True:
                c = text[i]
                if c == "\\":
                    out.append(_ESC.get(text[i + 1], text[i + 1]))
                    i += 2
                elif c == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        out.append("'")
                        i += 2
                    else:
                        i += 1
                        break
                else:
                    out.append(c)
                    i += 1
            row.append("".join(out))
        elif row is not None and (ch.isdigit() or ch == "-" or text.startswith("NULL", i)):
            m = re.compile(r"NULL|-?\d+(\.\d+)?").match(text, i)
            assert m
            tok = m.group(0)
            row.append(None if tok == "NULL" else (float(tok) if "." in tok else int(tok)))
            i = m.end()
        else:
            i += 1
    return rows


def capture_columns() -> list[tuple[str, str]]:
    return _create_columns((CAPTURE / "cdr.sql").read_text(encoding="utf-8"))


def capture_rows() -> list[dict[str, Any]]:
    """The 48 rows of the capture, in dump order, dates as naive datetimes."""
    sql = (CAPTURE / "cdr.sql").read_text(encoding="utf-8")
    cols = _create_columns(sql)
    insert = sql.split("INSERT INTO `cdr` VALUES", 1)[1].split(";\n", 1)[0]
    out = []
    for values in _values(insert):
        row = {}
        for (name, kind), v in zip(cols, values, strict=True):
            row[name] = datetime.fromisoformat(v) if kind == "datetime" and isinstance(v, str) else v
        out.append(row)
    return out


def load_cdr(url: str, rows: list[dict[str, Any]] | None = None, table: str = "cdr") -> int:
    """Create a FreePBX-shaped `cdr` table (the capture's columns) at `url` and fill it."""
    rows = capture_rows() if rows is None else rows
    md = MetaData()
    cols = []
    for name, kind in capture_columns():
        if kind == "datetime":
            cols.append(Column(name, DateTime))
        elif kind == "int":
            cols.append(Column(name, Integer))
        else:
            cols.append(Column(name, String(255)))
    t = Table(table, md, *cols)
    engine = create_engine(url)
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            conn.execute(t.insert(), rows)
    finally:
        engine.dispose()
    return len(rows)
