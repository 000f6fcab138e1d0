"""The command line: help for every verb, exit codes, status --json, locks, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.locks import job_lock
from jobs.cli import cli
from tests.capture import load_cdr
from tests.conftest import Databases, require_fixtures

VERBS = ["demo", "check", "sync", "backfill", "reconcile", "report", "verify", "status", "schedule", "live"]
VERBS += ["prune"]


def config(tmp_path: Path, source_url: str, extra: str = "") -> Path:
    path = tmp_path / "cdr1c.toml"
    path.write_text(
        f'[source]\nurl = "{source_url}"\ntimezone = "UTC"\n'
        f'[state]\nurl = "sqlite:///{tmp_path / "ledger.sqlite"}"\n'
        f'[general]\nlock_dir = "{tmp_path}"\n{extra}'
    )
    return path


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb: str) -> None:
    result = CliRunner().invoke(cli, [verb, "--help"])
    assert result.exit_code == 0
    assert "Exit codes:" in result.output
    assert len(result.output.splitlines()) > 8


def test_top_level_help_lists_every_verb() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    for verb in VERBS:
        assert f"  {verb}" in out


def test_config_error_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[source]\nurl = "sqlite:///x"\nlookbak = "2h"\n')
    result = CliRunner().invoke(cli, ["--config", str(bad), "sync"])
    assert result.exit_code == 2
    assert "source.lookbak: unknown key; did you mean 'lookback'?" in result.output
    missing = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "status"])
    assert missing.exit_code == 2 and "not found" in missing.output


def test_sync_status_json_and_exit_codes(tmp_path: Path, databases: Databases) -> None:
    require_fixtures()
    src = databases.url("sqlite")
    load_cdr(src)
    cfg = config(tmp_path, src)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(cfg), "sync"]).exit_code == 0
    status = runner.invoke(cli, ["--config", str(cfg), "status", "--json"])
    assert status.exit_code == 0
    state = json.loads(status.output)
    assert state["sources"]["default"]["rows"] == 48
    assert state["sources"]["default"]["calls"] == 31
    assert state["sources"]["default"]["quarantined"] == 0
    assert state["sources"]["default"]["cursor"] == "2026-11-25 23:47:35"
    assert set(state["outbox"]) >= {"pending", "delivered", "dead"}
    assert state["last_run"]["job"] == "sync" and state["last_run"]["exit_code"] == 0
    text = runner.invoke(cli, ["--config", str(cfg), "status"])
    assert "default" in text.output and "48" in text.output


def test_second_sync_exits_with_the_lock_code(tmp_path: Path, databases: Databases) -> None:
    require_fixtures()
    src = databases.url("sqlite")
    load_cdr(src)
    cfg = config(tmp_path, src)
    with job_lock(tmp_path, "sync", "default"):
        result = CliRunner().invoke(cli, ["--config", str(cfg), "sync"])
    assert result.exit_code == 6
    assert "already running" in result.output
    assert CliRunner().invoke(cli, ["--config", str(cfg), "sync"]).exit_code == 0  # released


def test_unreachable_source_and_no_password_in_output(tmp_path: Path) -> None:
    cfg = config(tmp_path, "mysql+pymysql://cdr:VerySecret123@127.0.0.1:1/asteriskcdrdb")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync"])
    assert result.exit_code == 3
    assert "VerySecret123" not in result.output
    assert "***" in result.output


def test_backfill_rejects_reversed_range(tmp_path: Path) -> None:
    cfg = config(tmp_path, "sqlite:///x")
    result = CliRunner().invoke(
        cli, ["--config", str(cfg), "backfill", "--since", "2026-02-01", "--until", "2026-01-01"]
    )
    assert result.exit_code == 2 and "after --until" in result.output
    bad_date = CliRunner().invoke(
        cli, ["--config", str(cfg), "backfill", "--since", "yesterday", "--until", "2026-01-01"]
    )
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
