"""Configuration: validated on load, errors name the key and say what is wrong."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from etl.config import KNOWN_SECTIONS, SOURCE_KEYS, Section, load_settings, parse_duration, parse_settings
from etl.errors import ConfigError
from etl.ledger.store import Ledger
from jobs.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_minimal_config_is_source_alone(tmp_path: Path) -> None:
    path = tmp_path / "cdr1c.toml"
    path.write_text('[source]\nurl = "sqlite:///cdr.db"\ntimezone = "Europe/Moscow"\n')
    s = load_settings(path)
    assert list(s.sources) == ["default"]
    assert s.sources["default"].lookback == timedelta(hours=6)
    assert s.state.url == f"sqlite:///{(tmp_path / 'cdr1c-state.sqlite').as_posix()}"
    assert s.onec is None and s.ami is None and s.recordings is None  # stages off


def test_env_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDR_PW", "s3cret")
    s = parse_settings(
        {"source": {"url": "mysql+pymysql://u:${CDR_PW}@h/asteriskcdrdb", "lookback": "${LB:-2h}"}}
    )
    assert s.sources["default"].url.endswith("u:s3cret@h/asteriskcdrdb")
    assert s.sources["default"].lookback == timedelta(hours=2)
    assert "s3cret" in s.secrets()
    with pytest.raises(ConfigError, match=r"source\.url: environment variable NOPE is not set"):
        parse_settings({"source": {"url": "${NOPE}"}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"source": {"url": "sqlite:///x", "tabel": "cdr"}},
            r"source\.tabel: unknown key; did you mean 'table'",
        ),
        ({"source": {"url": "sqlite:///x", "timezone": "Mars/Base"}}, r"source\.timezone: unknown time zone"),
        ({"source": {"url": "sqlite:///x", "lookback": "soon"}}, r"source\.lookback: expected a duration"),
        ({"source": {"url": "sqlite:///x", "chunk_size": 5}}, r"source\.chunk_size: must be at least 100"),
        ({"source": {"url": "not a url"}}, r"source\.url: expected an SQLAlchemy URL"),
        ({"sourse": {}}, r"sourse: unknown section; did you mean \[source\]"),
        ({}, r"source: the \[source\] section is required"),
        ({"source": {"a": {"url": "sqlite:///x", "cursor": "rowid"}}}, r"source\.a\.cursor: must be one of"),
        (
            {"source": {"url": "sqlite:///x"}, "schedule": {"sync": "every minute"}},
            r"schedule\.sync: not a cron",
        ),
        ({"source": {"url": "sqlite:///x"}, "api": {"token": "short"}}, r"api\.token: set a random token"),
        (
            {"source": {"url": "sqlite:///x"}, "ami": {"user": "u", "secret": "s", "channel": "PJSIP/101"}},
            r"ami\.channel",
        ),
    ],
)
def test_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(data)


def test_several_pbxs() -> None:
    s = parse_settings(
        {"source": {"east": {"url": "sqlite:///a"}, "west": {"url": "csv:///var/log/Master.csv"}}}
    )
    assert set(s.sources) == {"east", "west"}
    assert s.sources["west"].is_csv


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CDR_DB_PASSWORD", "ONEC_PASSWORD", "AMI_SECRET", "CDR1C_API_TOKEN"):
        monkeypatch.setenv(var, "x" * 24)
    s = load_settings(ROOT / "cdr1c.example.toml")
    assert s.sources and s.onec and s.ami and s.api and s.recordings and s.reports and s.schedule


@given(st.integers(0, 10_000), st.sampled_from(["s", "m", "h", "d"]))
def test_durations(n: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    assert parse_duration(f"{n}{unit}", "k") == timedelta(seconds=n * seconds)
    assert parse_duration(n, "k") == timedelta(seconds=n)


# --- every key documented (docs/configuration.md), both ways ----------------------------------------

# The smallest document with every section: what each accepts is what the checker asks for.
EVERY_SECTION: dict[str, Any] = {
    "source": {"url": "sqlite:///cdr.sqlite"},
    "state": {},
    "recordings": {"root": "monitor"},
    "onec": {"url": "http://1c.local/crm"},
    "reports": {},
    "ami": {"user": "cdr1c", "secret": "s"},
    "api": {"token": "t" * 16},
    "schedule": {},
    "general": {},
}


def accepted_keys() -> dict[str, set[str]]:
    """Per section, the keys the checker accepts: those each `Section` asked for."""
    seen: dict[str, set[str]] = {}
    done = Section.done

    def record(sec: Section) -> None:
        seen.setdefault(sec.path, set()).update(sec.accepted)
        done(sec)

    with mock.patch.object(Section, "done", record):
        parse_settings(EVERY_SECTION, env={})
    return seen


def documented_keys() -> dict[str, set[str]]:
    r"""Per `## \`[section]\`` of docs/configuration.md, the names in the first column of its
    tables (`[onec.fields]` is the key `fields` of [onec])."""
    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for block in re.split(r"^## ", docs, flags=re.M)[1:]:
        m = re.match(r"`\[(\w+)\]`", block)
        if m is None:
            continue
        keys = out.setdefault(m[1], set())
        for row in re.findall(r"^\| ([^|]+) \|", block, flags=re.M):
            for name in re.findall(r"`([^`]+)`", row):
                keys.add(name.strip("[]").rsplit(".", 1)[-1])
    return out


def test_every_accepted_key_is_documented_and_every_documented_key_accepted() -> None:
    accepted, documented = accepted_keys(), documented_keys()
    assert set(accepted) == set(KNOWN_SECTIONS) == set(documented)
    for section in KNOWN_SECTIONS:
        assert accepted[section] - documented[section] == set(), f"[{section}] undocumented"
        assert documented[section] - accepted[section] == set(), f"[{section}] documented, not accepted"
    assert set(SOURCE_KEYS) == accepted["source"]  # the "did you mean" list of [source]


def test_the_example_uses_only_accepted_keys() -> None:
    data = tomllib.loads((ROOT / "cdr1c.example.toml").read_text(encoding="utf-8"))
    env = dict.fromkeys(("CDR_DB_PASSWORD", "ONEC_PASSWORD", "AMI_SECRET", "CDR1C_API_TOKEN"), "x" * 24)
    parse_settings(data, env=env)  # unknown keys would be errors
    accepted = accepted_keys()
    free_tables = {("onec", "fields"), ("onec", "extensions"), ("ami", "managers")}  # names are data
    for section, table in data.items():
        for key in table:
            assert key in accepted[section], f"[{section}] {key}"
            assert (section, key) in free_tables or not isinstance(table[key], dict)


# --- commands that reach no system run without its secrets -------------------------------------------

LEDGER_CONFIG = """
[source]
url = "mysql+pymysql://cdr1c:${CDR_DB_PASSWORD}@127.0.0.1:1/asteriskcdrdb"
[state]
url = "sqlite:///ledger.sqlite"
[onec]
url = "${ONEC_URL}"
password = "${ONEC_PASSWORD}"
[api]
token = "${TOKEN}"
[general]
lock_dir = "."
"""


def test_unset_variables_of_unused_sections_are_no_error() -> None:
    data = tomllib.loads(LEDGER_CONFIG)
    s = parse_settings(data, env={}, uses=("state", "general"))
    assert s.state.url.endswith("/ledger.sqlite")
    assert s.onec is None and s.api is None  # unreadable without their variables: left out
    assert list(s.sources) == ["default"]  # what status lists, its URL unused
    with pytest.raises(ConfigError, match=r"^source\.url: environment variable CDR_DB_PASSWORD is not set$"):
        parse_settings(data, env={})
    with pytest.raises(ConfigError, match=r"^onec\.url: environment variable ONEC_URL is not set$"):
        parse_settings(data, env={"CDR_DB_PASSWORD": "pw"})
    # `${TOKEN}` is too short for a token: the cause reported is the unset variable, not the length
    env = {"CDR_DB_PASSWORD": "pw", "ONEC_URL": "http://1c/crm", "ONEC_PASSWORD": "pw"}
    with pytest.raises(ConfigError, match=r"^api\.token: environment variable TOKEN is not set$"):
        parse_settings(data, env=env, uses=("api",))
    data["state"]["url"] = "${STATE_URL}"
    with pytest.raises(ConfigError, match=r"^state\.url: environment variable STATE_URL is not set$"):
        parse_settings(data, env={}, uses=("state",))


@pytest.mark.parametrize("args", [["status"], ["status", "--json"], ["prune", "--dry-run"], ["prune"]])
def test_ledger_commands_run_without_the_secrets_of_other_systems(tmp_path: Path, args: list[str]) -> None:
    cfg = tmp_path / "cdr1c.toml"
    cfg.write_text(LEDGER_CONFIG, encoding="utf-8")
    unset = dict.fromkeys(("CDR_DB_PASSWORD", "ONEC_URL", "ONEC_PASSWORD", "TOKEN"))
    Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")  # a first sync made it (status creates none)
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], env=unset)
    assert result.exit_code == 0, result.output
    assert "not set" not in result.output


@pytest.mark.parametrize("args", [["check"], ["sync"], ["verify"], ["reconcile"], ["report"], ["live"]])
def test_commands_that_reach_a_system_name_the_unset_variable(tmp_path: Path, args: list[str]) -> None:
    cfg = tmp_path / "cdr1c.toml"
    cfg.write_text(LEDGER_CONFIG, encoding="utf-8")
    env = {
        "CDR_DB_PASSWORD": "Sec@ret99",
        "ONEC_URL": "http://1c.local/crm",
        "ONEC_PASSWORD": None,
        "TOKEN": "t" * 16,
    }
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], env=env)
    assert result.exit_code == 2
    assert result.output == "error: onec.password: environment variable ONEC_PASSWORD is not set\n"
