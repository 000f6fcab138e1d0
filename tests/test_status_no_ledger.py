"""Commands that only read the ledger create none: with no ledger at `[state] url` they say so,
how to create one, and exit 8 (a wrong path must not look like "nothing synced yet")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from etl.errors import ExitCode
from jobs.cli import cli
from tests.conftest import Databases


def write_config(tmp_path: Path, state_url: str) -> Path:
    cfg = tmp_path / "cdr1c.toml"
    cfg.write_text(
        f'[source]\nurl = "sqlite:///{tmp_path / "pbx.sqlite"}"\n[state]\nurl = "{state_url}"\n'
        f'[general]\nlock_dir = "{tmp_path / "locks"}"\n',
        encoding="utf-8",
    )
    return cfg


def files_under(path: Path) -> set[Path]:
    return set(path.rglob("*"))


@pytest.mark.parametrize(
    "args", [["status"], ["status", "--json"], ["prune", "--dry-run"], ["status", "--metrics-file", "m.prom"]]
)
def test_no_ledger_file_is_created_and_the_exit_code_says_so(tmp_path: Path, args: list[str]) -> None:
    wrong = tmp_path / "typo" / "ledger.sqlite"
    cfg = write_config(tmp_path, f"sqlite:///{wrong}")
    before = files_under(tmp_path)
    args = [a if a != "m.prom" else str(tmp_path / "m.prom") for a in args]
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    assert result.exit_code == ExitCode.NO_LEDGER == 8, result.output
    assert not wrong.parent.exists()  # no file, not even its folder
    assert files_under(tmp_path) - before <= {tmp_path / "locks", tmp_path / "locks" / "cdr1c-prune.lock"}
    if "--json" in args:
        doc = json.loads(result.stdout)
        assert doc["ledger"]["exists"] is False and doc["ledger"]["url"] == f"sqlite:///{wrong}"
        assert doc["ledger"]["create_with"] == "cdr1c sync"
    else:
        assert (
            f"no ledger exists at sqlite:///{wrong} yet" in result.output
            and "`cdr1c sync` creates it" in result.output
        )


def test_a_database_without_the_ledger_is_no_ledger_and_its_password_is_masked(
    tmp_path: Path, databases: Databases
) -> None:
    url = databases.url("postgres").replace("postgres@", "postgres:s3cret-pw@")  # trust: ignored
    cfg = write_config(tmp_path, url)
    text = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    as_json = CliRunner().invoke(cli, ["--config", str(cfg), "status", "--json"])
    assert text.exit_code == as_json.exit_code == 8, text.output
    assert "s3cret-pw" not in text.output + as_json.output
    assert "no ledger exists at postgresql" in text.output and "***" in text.output
    engine = create_engine(url)
    assert inspect(engine).get_table_names() == []  # nothing created in the database either
    engine.dispose()


def test_status_reads_a_ledger_sync_created(tmp_path: Path) -> None:
    """The same config once `cdr1c sync` has created the ledger: status answers (exit 0)."""
    from etl.ledger.store import Ledger

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Ledger.open(url).close()  # what a first sync does before anything else
    cfg = write_config(tmp_path, url)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "status", "--json"])
    assert result.exit_code == 0, result.output
    assert "outbox" in json.loads(result.stdout)
