"""Passwords in URLs: any password reaches the driver exactly, and no piece of it is ever shown.

A `${VAR}` in a URL's user-info is percent-encoded on interpolation (docs/configuration.md), so
`@`, `:`, `/`, `%`, quotes, spaces and Cyrillic cannot split the URL; every place a URL is
shown masks the password whole.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from etl.config import Settings, parse_settings
from etl.errors import ConfigError
from etl.ledger.store import make_engine
from etl.secrets import mask_url, redact
from jobs.cli import cli
from tests.conftest import MARIADB, port_open, require

SPECIALS = "@:/?#%[]\\ \"'"
CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Passwords over the whole alphabet, and ones built from the characters that break URLs.
PASSWORDS = st.one_of(
    st.text(alphabet=SPECIALS + CYRILLIC + LETTERS, min_size=1, max_size=24),
    st.text(alphabet=SPECIALS, min_size=3, max_size=12),
)
SOURCE_URL = "mysql+pymysql://cdr1c:${PW}@127.0.0.1:3306/asteriskcdrdb"
STATE_URL = "postgresql+psycopg://cdr1c:${PW}@127.0.0.1:5432/ledger"


def leaks(password: str, shown: str, public: str = "") -> list[str]:
    """The 3-character pieces of `password` found in `shown` but not in `public` (what the same
    output says with another password: "Access denied" holds "ess" whatever the password)."""
    pieces = {password[i : i + 3] for i in range(len(password) - 2)}
    return sorted(p for p in pieces if p in shown and p not in public)


class _Stop(Exception):
    pass


def driver_arguments(url: str) -> dict[str, Any]:
    """The keyword arguments the DB-API driver's `connect()` would receive for `url`."""
    engine = make_engine(url)
    seen: dict[str, Any] = {}

    @event.listens_for(engine, "do_connect")
    def grab(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise _Stop

    with pytest.raises(_Stop):
        engine.connect()
    engine.dispose()
    return seen


@settings(deadline=None)  # the first example imports the drivers
@given(PASSWORDS)
def test_any_password_parses_back_exactly_and_is_never_shown(password: str) -> None:
    data = {"source": {"url": SOURCE_URL}, "state": {"url": STATE_URL}}
    s, other = parse_settings(data, env={"PW": password}), parse_settings(data, env={"PW": "x"})
    cases = [
        (s.sources["default"].url, other.sources["default"].url, 3306, "asteriskcdrdb"),
        (s.state.url, other.state.url, 5432, "ledger"),
    ]
    for url, public, port, database in cases:
        parsed = make_url(url)
        assert (parsed.username, parsed.password) == ("cdr1c", password)
        assert (parsed.host, parsed.port, parsed.database) == ("127.0.0.1", port, database)
        assert not leaks(password, mask_url(url), mask_url(public))

        def line(u: str) -> str:  # a driver's message quoting the URL, and a variant of it
            return f"error: {u} and {u.replace('cdr1c', 'x')}: failed"

        assert not leaks(password, redact(line(url), s.secrets()), line(public))
    # what the drivers are handed: PyMySQL the UTF-8 bytes (as the server hashed them), psycopg text
    assert driver_arguments(s.sources["default"].url)["password"] == password.encode("utf-8")
    assert driver_arguments(s.state.url)["password"] == password


@settings(deadline=None)
@given(PASSWORDS)
def test_a_literal_password_the_url_cannot_carry_is_refused_without_repeating_it(password: str) -> None:
    """Written into the file unencoded, a password with `@` would move the host into the
    password; the error says how to write it and shows none of it."""

    def load(pw: str) -> Settings:
        return parse_settings({"source": {"url": f"mysql+pymysql://cdr1c:{pw}@127.0.0.1:3306/asteriskcdrdb"}})

    try:
        s = load(password)
    except ConfigError as exc:
        with pytest.raises(ConfigError) as other:
            load("x@y")
        assert not leaks(password, str(exc), public=str(other.value))
        return
    parsed = make_url(s.sources["default"].url)
    assert parsed.host == "127.0.0.1"  # read as intended, so masking hides the password whole
    public = mask_url(load("x").sources["default"].url)
    assert not leaks(str(parsed.password), mask_url(s.sources["default"].url), public)


@pytest.mark.parametrize("password", ["Sec@ret99", "p@ss:w/rd"])
def test_the_reported_passwords_are_masked_whole(password: str) -> None:
    s = parse_settings({"source": {"url": SOURCE_URL}}, env={"PW": password})
    assert mask_url(s.sources["default"].url) == "mysql+pymysql://cdr1c:***@127.0.0.1:3306/asteriskcdrdb"


# --- what the commands print when the connections fail -------------------------------------------

COMMANDS = (
    ["check"],
    ["sync"],
    ["--log-format", "json", "sync"],
    ["status"],
    ["verify", "--since", "2026-01-01", "--until", "2026-01-02"],
    ["check", "--help"],
)


@pytest.fixture(scope="module")
def bad_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[list[str], str], Any]]:
    """`run(args, password)`: the CLI's result with a config whose source (MariaDB: a user that
    does not exist, so the server itself answers) and ledger (nothing listens) take ${PW}."""
    folder = tmp_path_factory.mktemp("secrets")
    cfg = folder / "cdr1c.toml"
    cfg.write_text(
        f'[source]\nurl = "mysql+pymysql://cdr1c_nobody:${{PW}}@127.0.0.1:3306/asteriskcdrdb"\n'
        'timezone = "UTC"\n'
        '[state]\nurl = "postgresql+psycopg://cdr1c:${PW}@127.0.0.1:1/ledger"\n'
        f'[general]\nlock_dir = "{folder}"\n',
        encoding="utf-8",
    )

    def run(args: list[str], password: str) -> Any:
        return CliRunner().invoke(cli, ["--config", str(cfg), *args], env={"PW": password})

    yield run


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=PASSWORDS)
def test_no_piece_of_the_password_in_any_output(
    bad_config: Callable[[list[str], str], Any], args: list[str], password: str
) -> None:
    if "--help" not in args:
        require(port_open(*MARIADB), "MariaDB on 127.0.0.1:3306")
    public = bad_config(args, "x").output
    result = bad_config(args, password)
    assert result.exit_code == (0 if "--help" in args else 3), result.output  # unreachable, no crash
    assert not leaks(password, result.output, public), result.output


# --- a real server takes the password --------------------------------------------------------------

DRIVERS = ["pymysql"] + (["mysqldb"] if importlib.util.find_spec("MySQLdb") else [])


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("password", ["Sec@ret99", "p@ss:w/rd", f"Пароль {SPECIALS}%41%"])
def test_mariadb_accepts_the_password_through_the_config(tmp_path: Path, driver: str, password: str) -> None:
    require(port_open(*MARIADB), "MariaDB on 127.0.0.1:3306")
    name = f"cdr1c_pw_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE `{name}`"))
        c.execute(text(f"CREATE TABLE `{name}`.cdr (calldate DATETIME, uniqueid VARCHAR(150))"))
        c.execute(text(f"CREATE USER '{name}'@'%' IDENTIFIED BY :pw"), {"pw": password})
        c.execute(text(f"GRANT SELECT ON `{name}`.* TO '{name}'@'%'"))
    try:
        cfg = tmp_path / "cdr1c.toml"
        cfg.write_text(
            f'[source]\nurl = "mysql+{driver}://{name}:${{PW}}@127.0.0.1:3306/{name}"\ntimezone = "UTC"\n'
            f'[state]\nurl = "sqlite:///ledger.sqlite"\n[general]\nlock_dir = "{tmp_path}"\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli, ["--config", str(cfg), "check"], env={"PW": password})
        assert result.exit_code == 0, result.output
        assert "ok   source default" in result.output
        assert not leaks(password, result.output, public=str(cfg))
    finally:
        with admin.connect() as c:
            c.execute(text(f"DROP USER IF EXISTS '{name}'@'%'"))
            c.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
