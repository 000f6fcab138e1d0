"""etl/urls.py reads database URLs as SQLAlchemy's `make_url` does (without importing it): the
same parts on generated URLs, the same failures, and SQLite paths rendered the same way."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from etl.urls import parse_db_url

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
SCHEMES = st.sampled_from(
    ["mysql", "mysql+pymysql", "mysql+mysqldb", "postgresql+psycopg", "sqlite", "mariadb"]
)


def same_parts(url: str) -> None:
    try:
        theirs = make_url(url)
    except Exception:
        assert parse_db_url(url) is None, url
        return
    ours = parse_db_url(url)
    assert ours is not None, url
    assert (ours.drivername, ours.username, ours.password, ours.host, ours.port, ours.database) == (
        theirs.drivername,
        theirs.username,
        theirs.password,
        theirs.host,
        theirs.port,
        theirs.database,
    ), url
    assert ours.get_backend_name() == theirs.get_backend_name()


@given(SCHEMES, TEXT, TEXT, TEXT, st.one_of(st.none(), st.integers(0, 65535), TEXT), TEXT, st.booleans())
def test_parts_as_sqlalchemy_reads_them(
    scheme: str, user: str, password: str, host: str, port: int | str | None, db: str, encode: bool
) -> None:
    if encode:
        user, password, db = (quote(x, safe="") for x in (user, password, db))
    netloc = f"{user}:{password}@{host}" + (f":{port}" if port is not None else "")
    same_parts(f"{scheme}://{netloc}/{db}")
    same_parts(f"{scheme}://{host}/{db}?charset=utf8mb4")


@given(TEXT)
def test_any_text_parses_or_fails_alike(text: str) -> None:
    same_parts(text)
    same_parts("mysql://" + text)


def test_known_urls() -> None:
    for url in [
        "mysql+pymysql://cdr:p%40ss@127.0.0.1:3306/asteriskcdrdb",
        "mysql://cdr:Пароль@pbx/asteriskcdrdb",
        "postgresql+psycopg://u@[::1]:5432/cdr",
        "sqlite:///relative/ledger.sqlite",
        "sqlite:////var/lib/cdr1c/ledger.sqlite",
        "mysql://u:pw@h:xx/d",
        "not a url",
    ]:
        same_parts(url)


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30))
def test_sqlite_paths_render_as_sqlalchemy_renders_them(name: str) -> None:
    path = "/data/" + name.replace("?", "")
    ours = parse_db_url("sqlite:///x.db")
    assert ours is not None
    rendered = ours.with_sqlite_file(path)
    assert rendered == make_url("sqlite:///x.db").set(database=path).render_as_string(hide_password=False)
