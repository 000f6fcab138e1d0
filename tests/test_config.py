"""Configuration: validated on load, errors name the key and say what is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.config import load_settings, parse_duration, parse_settings
from etl.errors import ConfigError

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


def test_every_key_is_documented() -> None:
    """docs/configuration.md names every key the code reads (docs that match the code)."""
    import re

    code = (ROOT / "etl" / "config.py").read_text(encoding="utf-8")
    keys = set(re.findall(r'sec\.[a-z_]+\("([a-z_]+)"', code))
    docs = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert len(keys) > 60
    undocumented = sorted(
        k for k in keys if f"`{k}`" not in docs and f"[onec.{k}]" not in docs and f"[ami.{k}]" not in docs
    )
    assert not undocumented, undocumented
