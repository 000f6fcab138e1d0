"""Shared fixtures: one fresh database per test on each back-end, fixtures' paths.

The same test runs over SQLite, MariaDB (127.0.0.1:3306, root, no password) and PostgreSQL
(127.0.0.1:5432, trust). With `CI` set, an unreachable server fails the test; elsewhere it
skips with the reason, so a laptop without servers still runs the rest.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from tests.browser import Browser

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"  # real Asterisk 22 output, see tests/fixtures/README.md
CAPTURE = FIXTURES / "asterisk22-capture1"
AMI_WIRE = FIXTURES / "asterisk22-ami-wire"
LIVE_SCENARIOS = FIXTURES / "asterisk22-live-scenarios"

# No per-example time limit: a property fails for a wrong answer, never for a busy machine.
settings.register_profile("cdr1c", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cdr1c")

MARIADB = ("127.0.0.1", 3306)
POSTGRES = ("127.0.0.1", 5432)
BACKENDS = ("sqlite", "mariadb", "postgres")


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(condition: bool, what: str) -> None:
    """Skip locally, fail in CI: a test that cannot reach its server never passes silently."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not reachable and CI is set", pytrace=False)
    pytest.skip(f"{what} is not reachable")


def require_fixtures() -> None:
    """The fixtures ship with the repository: their absence is a broken checkout, never a skip."""
    assert CAPTURE.exists(), f"tests/fixtures is incomplete: {CAPTURE} is missing"


class Databases:
    """Creates throw-away databases and drops them at the end of the test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._drops: list[Callable[[], None]] = []

    def url(self, backend: str) -> str:
        name = f"cdr1c_t_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            return f"sqlite:///{self.tmp_path / (name + '.sqlite')}"
        if backend == "mariadb":
            require(port_open(*MARIADB), "MariaDB on 127.0.0.1:3306")
            admin = create_engine("mysql+pymysql://root@127.0.0.1:3306/", isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
            admin.dispose()

            def drop() -> None:
                eng = create_engine("mysql+pymysql://root@127.0.0.1:3306/", isolation_level="AUTOCOMMIT")
                with eng.connect() as c:
                    c.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                eng.dispose()

            self._drops.append(drop)
            return f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
        if backend == "postgres":
            require(port_open(*POSTGRES), "PostgreSQL on 127.0.0.1:5432")
            admin = create_engine(
                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as c:
                c.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
            admin.dispose()

            def drop_pg() -> None:
                eng = create_engine(
                    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
                )
                with eng.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                eng.dispose()

            self._drops.append(drop_pg)
            return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        raise ValueError(backend)

    def cleanup(self) -> None:
        for drop in reversed(self._drops):
            with contextlib.suppress(Exception):  # best effort
                drop()


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[Databases]:
    dbs = Databases(tmp_path)
    yield dbs
    dbs.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ledger_url(databases: Databases, backend: str) -> str:
    """A fresh, empty state-store URL on each back-end."""
    return databases.url(backend)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module (tests/browser.py)."""
    from tests.browser import Browser, chromium_path

    require(chromium_path() is not None, "headless Chromium (Debian package chromium)")
    b = Browser()
    yield b
    b.close()


# What may appear in the repository's root during a run: the tools' caches and the virtualenv.
ROOT_LEFT_ALONE = {".venv", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", "__pycache__"}


@pytest.fixture(scope="session", autouse=True)
def repository_root_stays_clean() -> Iterator[None]:
    """Fail the run if a test left a new file in the repository's root (a ledger at the default
    `[state] url` opened with the repository as the working folder, say): tests write to tmp dirs."""
    before = set(os.listdir(ROOT))
    yield
    new = sorted(set(os.listdir(ROOT)) - before - ROOT_LEFT_ALONE)
    new = [n for n in new if not n.endswith(".egg-info")]
    if new:
        pytest.fail(f"the tests left {', '.join(new)} in the repository's root {ROOT}", pytrace=False)
