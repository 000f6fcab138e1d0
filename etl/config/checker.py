"""Typed, key-checked access to one TOML table: a wrong type, range or unknown key is an error
that names the key, with a "did you mean" hint for a typo."""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from etl.config.values import URL_SCHEME, interpolate, parse_duration, zone_exists
from etl.errors import ConfigError
from etl.urls import parse_db_url


class Section:
    """Typed, key-checked access to one TOML table; `done()` rejects keys nobody read."""

    def __init__(
        self,
        table: dict[str, Any],
        path: str,
        base_dir: Path,
        env: Mapping[str, str] | None = None,
        unresolved: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(table, dict):
            raise ConfigError("expected a table", path)
        self.table = table
        self.path = path
        self.base_dir = base_dir
        self.env = env
        self.unresolved = unresolved  # given: an unset `${NAME}` is recorded, not an error
        self.accepted: set[str] = set()  # every key asked for: all the section accepts

    def key(self, name: str) -> str:
        return f"{self.path}.{name}"

    def has(self, name: str) -> bool:
        return name in self.table

    def raw(self, name: str, default: Any = None) -> Any:
        self.accepted.add(name)
        value = self.table.get(name, default)
        if isinstance(value, str):
            value = self.interpolate(value, name)
        return value

    def interpolate(self, value: str, name: str) -> str:
        return interpolate(value, self.key(name), self.env, self.unresolved)

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.raw(name, default)
        if value is None:
            if required:
                raise ConfigError("is required", self.key(name))
            return None
        if not isinstance(value, str):
            raise ConfigError(f"expected a string, got {type(value).__name__} {value!r}", self.key(name))
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name, default)
        if value not in choices:
            raise ConfigError(f"must be one of {', '.join(choices)}; got {value!r}", self.key(name))
        return str(value)

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.raw(name, default)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"expected a whole number, got {value!r}", self.key(name))
        if minimum is not None and value < minimum:
            raise ConfigError(f"must be at least {minimum}, got {value}", self.key(name))
        if maximum is not None and value > maximum:
            raise ConfigError(f"must be at most {maximum}, got {value}", self.key(name))
        return value

    def number(self, name: str, default: float, *, minimum: float | None = None) -> float:
        value = self.raw(name, default)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"expected a number, got {value!r}", self.key(name))
        if minimum is not None and value < minimum:
            raise ConfigError(f"must be at least {minimum}, got {value}", self.key(name))
        return float(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name, default)
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", self.key(name))
        return value

    def duration(self, name: str, default: str | int) -> timedelta:
        return parse_duration(self.raw(name, default), self.key(name))

    def zone(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not zone_exists(value):
            raise ConfigError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/Moscow'",
                self.key(name),
            )
        return str(value)

    def regex(self, name: str, default: str) -> str:
        value = self.text(name, default)
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f"not a valid regular expression: {exc}", self.key(name)) from None
        return str(value)

    def str_list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name, default if default is not None else [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"expected a list of strings, got {value!r}", self.key(name))
        return [self.interpolate(v, name) for v in value]

    def regex_list(self, name: str, default: list[str]) -> list[str]:
        values = self.str_list(name, default)
        for v in values:
            try:
                re.compile(v)
            except re.error as exc:
                raise ConfigError(f"{v!r} is not a valid regular expression: {exc}", self.key(name)) from None
        return values

    def path_value(self, name: str, default: str | None = None, *, required: bool = False) -> Path | None:
        value = self.text(name, default, required=required)
        return None if value is None else self.resolve(value)

    def resolve(self, path: str) -> Path:
        """A path as written in the file: relative paths start at the configuration's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def db_url(self, name: str, default: str | None = None) -> str:
        """An SQLAlchemy URL or a `csv://` path. Relative SQLite and CSV paths start at the
        configuration's folder, like every path; a URL whose user-info SQLAlchemy would misread
        (a literal `@` in a password) is an error that does not repeat the URL."""
        url = str(self.text(name, default, required=default is None))
        if url.startswith("csv://"):
            return "csv://" + str(self.resolve(url[len("csv://") :]))
        if not URL_SCHEME.match(url):
            raise ConfigError(
                "expected an SQLAlchemy URL (mysql+pymysql://user:pw@host/asteriskcdrdb, "
                "postgresql+psycopg://…, sqlite:///path) or csv:///path/Master.csv",
                self.key(name),
            )
        parsed = parse_db_url(url)  # SQLAlchemy's reading, without importing it (etl/urls.py)
        # one `@` ends the user-info: another one leaves the host, or the password, in doubt
        if parsed is None or (parsed.get_backend_name() != "sqlite" and url.count("@") > 1):
            raise ConfigError(
                "not a URL SQLAlchemy can read: in a user name or password written in the file, "
                "percent-encode @ : / ? # % (@ is %40), or put it in ${VARIABLE}, which is encoded",
                self.key(name),
            )
        db = parsed.database or ""
        if parsed.get_backend_name() != "sqlite" or db in ("", ":memory:") or db.startswith("file:"):
            return url
        resolved = str(self.resolve(db))
        if resolved == db:
            return url
        rendered = parsed.with_sqlite_file(resolved)
        if rendered is not None:
            return rendered
        from sqlalchemy.engine import make_url  # user, host or query parts: SQLAlchemy renders them

        return make_url(url).set(database=resolved).render_as_string(hide_password=False)

    def table_of(self, name: str) -> dict[Any, Any]:
        self.accepted.add(name)
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError("expected a table", self.key(name))
        return value

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.accepted)
        if unknown:
            name = unknown[0]
            close = difflib.get_close_matches(name, sorted(self.accepted), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown key{hint}", self.key(name))
