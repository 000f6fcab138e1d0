"""Database URLs read as SQLAlchemy's `make_url` reads them, without importing SQLAlchemy.

Reading the configuration and setting up redaction happen in every run, a `cdr1c sync` from
cron that finds nothing new included; SQLAlchemy costs ~0.2 s to import (docs/benchmarks.md
§1). The pattern is SQLAlchemy's own (`sqlalchemy/engine/url.py`, `_parse_url`, 2.0), so both
agree on where the user name, password, host and database are; tests/test_urls.py checks them
against `make_url` on generated URLs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
        (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class DbUrl:
    drivername: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    query: str | None  # as written

    def get_backend_name(self) -> str:
        return self.drivername.partition("+")[0]

    def sqlite_file(self) -> str | None:
        """The file an SQLite URL names; None for servers and in-memory databases."""
        db = self.database
        if self.get_backend_name() != "sqlite" or not db or db == ":memory:" or db.startswith("file:"):
            return None
        return db

    def with_sqlite_file(self, path: str) -> str | None:
        """The URL naming another SQLite file, rendered as SQLAlchemy renders it; None where
        it has parts that rendering would have to reproduce (user, host, query)."""
        if self.username is not None or self.host is not None or self.port is not None or self.query:
            return None
        return f"{self.drivername}:///" + quote(path, safe=" +/")


def parse_db_url(url: str) -> DbUrl | None:
    """The parts of `url`, or None where `make_url` raises (no `scheme://`, a port that is
    not a number)."""
    m = _URL.match(url)
    if m is None:
        return None
    port: int | None = None
    if m["port"] is not None:  # `int()` of what is there, as SQLAlchemy does ('' fails too)
        try:
            port = int(m["port"])
        except ValueError:
            return None

    def text(name: str) -> str | None:
        value = m[name]
        return unquote(value) if value is not None else None

    return DbUrl(
        drivername=m["name"],
        username=text("username"),
        password=text("password"),
        host=m["ipv4host"] or m["ipv6host"],
        port=port,
        database=text("database"),
        query=m["query"],
    )
