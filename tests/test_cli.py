"""The command line: help for every verb, exit codes, status --json, locks, no secrets."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from etl.ledger.store import Ledger
from etl.locks import job_lock
from jobs.cli import MONTHS, cli, parse_day
from tests.capture import load_cdr
from tests.conftest import Databases, require_fixtures

VERBS = ["demo", "check", "sync", "backfill", "reconcile", "report", "verify", "status", "schedule", "live"]
VERBS += ["prune", "standin", "recordings"]


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


# --- global options after the verb (issue 12, item 7) -------------------------------------
REQUIRED = {"backfill": ["--since", "2026-01-01", "--until", "2026-01-02"]}


@pytest.mark.parametrize("verb", [v for v in VERBS if v not in ("demo", "standin")])  # they use --dir
def test_every_verb_takes_config_after_its_name(verb: str, tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere.toml"
    result = CliRunner().invoke(cli, [verb, *REQUIRED.get(verb, []), "--config", str(missing)])
    assert result.exit_code == 2, result.output
    assert f"configuration file {missing} not found" in result.output  # read from there


def test_log_format_and_metrics_file_after_the_verb(tmp_path: Path) -> None:
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}").close()  # status reads, never creates, one
    bad = CliRunner().invoke(cli, ["status", "--config", str(tmp_path / "nope.toml"), "--log-format", "json"])
    assert bad.exit_code == 2
    assert json.loads(bad.output.strip().splitlines()[-1])["exit_code"] == 2  # a JSON log line
    prom = tmp_path / "cdr1c.prom"
    ok = CliRunner().invoke(
        cli, ["--config", "ignored.toml", "status", "--config", str(cfg), "--metrics-file", str(prom)]
    )
    assert ok.exit_code == 0, ok.output  # after the verb wins over before it
    assert "cdr1c_metrics_timestamp_seconds" in prom.read_text(encoding="utf-8")


# --- dates (issue 12, item 7) ---------------------------------------------------------------
def _days_in(year: int, month: int) -> int:
    return max(n for n in range(28, 32) if _exists(year, month, n))


def _exists(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


@given(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32))
def test_a_well_formed_date_parses_or_says_why_it_does_not_exist(year: int, month: int, day: int) -> None:
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if _exists(year, month, day):
        assert parse_day(text) == date(year, month, day)
        return
    with pytest.raises(ValueError) as err:
        parse_day(text)
    message = str(err.value)
    assert message.startswith(f"{text} is not a date: ") and "YYYY-MM-DD" not in message
    if year >= 1 and 1 <= month <= 12:
        assert message.endswith(f"{MONTHS[month - 1]} {year} has {_days_in(year, month)} days")


@given(st.text(max_size=20).filter(lambda t: not re.fullmatch(r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*", t)))
def test_anything_else_is_a_format_error(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_day(text)
    assert str(err.value) == f"expected YYYY-MM-DD, got {text!r}"


def test_the_command_line_says_which_date_does_not_exist(tmp_path: Path) -> None:
    cfg = config(tmp_path, "sqlite:///x")
    for verb in ("verify", "reconcile", "report"):
        result = CliRunner().invoke(cli, [verb, "--config", str(cfg), "--since", "2026-02-30"])
        assert result.exit_code == 2
        assert "2026-02-30 is not a date: February 2026 has 28 days" in result.output
    leap = CliRunner().invoke(cli, ["verify", "--config", str(cfg), "--until", "2025-02-29"])
    assert "2025-02-29 is not a date: February 2025 has 28 days" in leap.output


def test_verify_help_says_what_it_checks_without_dates() -> None:
    out = " ".join(CliRunner().invoke(cli, ["verify", "--help"]).output.split())
    assert "Without --since and --until: the last 7 days, today included." in out
    assert "default: 6 days before --until" in out and "default: today in [onec] timezone" in out


def test_verify_without_dates_says_which_days_it_compared(tmp_path: Path, databases: Databases) -> None:
    require_fixtures()
    src = databases.url("sqlite")
    load_cdr(src)
    cfg = config(tmp_path, src)
    result = CliRunner().invoke(cli, ["verify", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC).date()  # the config has no [onec]: days of UTC
    first = today - timedelta(days=6)
    assert f"days {first} … {today} in UTC (the default: the last 7 days)" in result.output
