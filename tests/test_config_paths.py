"""Paths start at the configuration's folder, and `cdr1c check` creates nothing anywhere.

docs/configuration.md: relative paths — path keys, `sqlite:///NAME` URLs of `[source]` and
`[state]`, `csv://NAME` — start at the configuration file's folder, whatever the current
directory; `check` reaches every system without creating or changing a file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from etl.config import load_settings
from etl.sandbox.standin import StandIn
from jobs.cli import cli
from tests.capture import load_cdr
from tests.conftest import require_fixtures


def tree(root: Path) -> dict[str, int]:
    """Every file and folder below `root`, with file sizes: what a command may not change."""
    return {
        str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1) for p in sorted(root.rglob("*"))
    }


def journal_mode(path: Path) -> str:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(con.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        con.close()


def without_sections(toml: str, *names: str) -> str:
    out, skip = [], False
    for line in toml.splitlines(keepends=True):
        if line.startswith("["):
            skip = line.strip("[]\n").split(".")[0] in names
        if not skip:
            out.append(line)
    return "".join(out)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory: not the configuration's folder."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.mark.parametrize("section", ["source", "state"])
@pytest.mark.parametrize("driver", ["sqlite", "sqlite+pysqlite"])
def test_relative_sqlite_urls_start_at_the_config_folder(
    tmp_path: Path, elsewhere: Path, section: str, driver: str
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    cfg = folder / "cdr1c.toml"
    urls = {"source": "sqlite:///abs.sqlite", "state": "sqlite:///abs.sqlite"}
    urls[section] = f"{driver}:///data/x.sqlite"
    cfg.write_text(
        f'[source]\nurl = "{urls["source"]}"\n[state]\nurl = "{urls["state"]}"\n'
        '[recordings]\nroot = "monitor"\n'
    )
    s = load_settings(cfg)
    url = s.sources["default"].url if section == "source" else s.state.url
    assert make_url(url).database == str(folder / "data" / "x.sqlite")
    assert s.recordings is not None and s.recordings.root == folder / "monitor"  # the same rule


def test_csv_paths_and_absolute_urls(tmp_path: Path, elsewhere: Path) -> None:
    cfg = tmp_path / "cdr1c.toml"
    cfg.write_text(
        '[source.a]\nurl = "csv://cdr-csv/Master.csv"\n'
        '[source.b]\nurl = "sqlite:////var/lib/asterisk/master.db"\n'
        '[source.c]\nurl = "sqlite:///~/master.db"\n'
    )
    s = load_settings(cfg)
    assert s.sources["a"].url == f"csv://{tmp_path / 'cdr-csv' / 'Master.csv'}"
    assert s.sources["b"].url == "sqlite:////var/lib/asterisk/master.db"
    assert make_url(s.sources["c"].url).database == str(Path("~/master.db").expanduser())


def test_check_reads_a_relative_source_beside_the_config_and_creates_nothing(
    tmp_path: Path, elsewhere: Path
) -> None:
    """The source is found beside the config from any directory; `check` then leaves every
    folder exactly as it was: no ledger, no -wal/-shm, the PBX database in its own journal mode."""
    require_fixtures()
    folder = tmp_path / "etc"
    folder.mkdir()
    load_cdr(f"sqlite:///{folder / 'pbx.sqlite'}")
    assert journal_mode(folder / "pbx.sqlite") == "delete"
    cfg = folder / "cdr1c.toml"
    cfg.write_text(
        '[source]\nurl = "sqlite:///pbx.sqlite"\ntimezone = "UTC"\n'
        '[state]\nurl = "sqlite:///var/ledger.sqlite"\n'
        f'[general]\nlock_dir = "{folder}"\n'
    )
    before = tree(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "check"])
    assert result.exit_code == 0, result.output
    assert "ok   source default: sqlite table cdr: 48 rows" in result.output
    assert (
        f"{folder / 'var' / 'ledger.sqlite'} does not exist yet, `cdr1c sync` will create it" in result.output
    )
    assert tree(tmp_path) == before

    # the ledger exists once sync ran; check still adds nothing, and sync never converts the
    # PBX's database to WAL (it is opened read-only)
    assert CliRunner().invoke(cli, ["--config", str(cfg), "sync"]).exit_code == 0
    assert journal_mode(folder / "pbx.sqlite") == "delete"
    before = tree(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "check"])
    assert result.exit_code == 0, result.output
    assert f"ok   state: {folder / 'var' / 'ledger.sqlite'}\n" in result.output
    assert tree(tmp_path) == before


def test_check_on_the_example_config_creates_nothing(tmp_path: Path, elsewhere: Path) -> None:
    """The example's paths moved under a temporary root: a missing source database is an error,
    a missing ledger is what `sync` will create; neither appears, nor does any folder."""
    root = tmp_path / "root"
    text = (Path(__file__).resolve().parent.parent / "cdr1c.example.toml").read_text(encoding="utf-8")
    text = text.replace(
        'url = "mysql+pymysql://cdr1c:${CDR_DB_PASSWORD}@127.0.0.1/asteriskcdrdb"',
        f'url = "sqlite:///{root}/var/log/asterisk/master.db"',
    )
    text = text.replace("sqlite:////var/lib/cdr1c/", f"sqlite:///{root}/var/lib/cdr1c/")
    text = text.replace('lock_dir = "/run/cdr1c"', f'lock_dir = "{root}/run/cdr1c"')
    text = without_sections(text, "onec", "ami")  # 1C and AMI are not reached here
    assert str(root) in text and "/var/lib/cdr1c" in text
    cfg = tmp_path / "cdr1c.toml"
    cfg.write_text(text, encoding="utf-8")
    env = {"CDR1C_API_TOKEN": "t" * 24}
    result = CliRunner().invoke(cli, ["--config", str(cfg), "check"], env=env)
    assert result.exit_code == 2, result.output  # the worst: the recordings folder is missing
    assert "FAIL recordings: /var/spool/asterisk/monitor is not a folder" in result.output
    assert (
        f"FAIL source default: SQLite database {root}/var/log/asterisk/master.db does not exist"
        in result.output
    )
    assert f"ok   state: {root}/var/lib/cdr1c/ledger.sqlite does not exist yet" in result.output
    assert not root.exists()
    assert os.listdir(elsewhere) == []
    assert sorted(os.listdir(tmp_path)) == ["cdr1c.toml", "cwd"]


def test_check_with_1c_writes_no_metadata_cache(tmp_path: Path, elsewhere: Path) -> None:
    """`sync` caches 1C's $metadata in lock_dir; `check` reads it fresh and writes nothing."""
    require_fixtures()
    load_cdr(f"sqlite:///{tmp_path / 'pbx.sqlite'}")
    with StandIn() as stand:
        cfg = tmp_path / "cdr1c.toml"
        cfg.write_text(
            '[source]\nurl = "sqlite:///pbx.sqlite"\ntimezone = "UTC"\n'
            f'[onec]\nurl = "{stand.url}"\nuser = "${{ONEC_USER}}"\npassword = "${{ONEC_PASSWORD}}"\n'
            f'[general]\nlock_dir = "{tmp_path / "run"}"\n'
        )
        before = tree(tmp_path)
        env = {"ONEC_USER": stand.user, "ONEC_PASSWORD": stand.password}
        result = CliRunner().invoke(cli, ["--config", str(cfg), "check"], env=env)
    assert "1C mapping" in result.output, result.output  # $metadata was read (the stand-in
    # lacks the event document and catalogs: what the mapping check reports is not tested here)
    assert tree(tmp_path) == before
