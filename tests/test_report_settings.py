"""`Settings.report_settings()`: the one owner of where reports and the reconciliation files go."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.config import parse_settings
from etl.errors import ConfigError

BASE = {"source": {"url": "sqlite:///cdr.sqlite", "timezone": "UTC"}, "state": {"url": "sqlite:///l.sqlite"}}
ONEC = {"url": "http://127.0.0.1:1/base/odata/standard.odata", "user": "u", "password": "p"}


def test_an_absent_reports_section_writes_under_the_lock_folder_in_1c_zone(tmp_path: Path) -> None:
    onec = {**ONEC, "timezone": "Asia/Yekaterinburg"}
    data = {**BASE, "onec": onec, "general": {"lock_dir": str(tmp_path / "run")}}
    rs = parse_settings(data, tmp_path / "cdr1c.toml").report_settings()
    assert rs.dir == tmp_path / "run" / "reports"
    assert rs.timezone == "Asia/Yekaterinburg"
    assert (rs.lang, rs.callback_hours, rs.onec_link_base, rs.client_xlsx) == ("ru", 24.0, "", True)


def test_without_onec_either_the_times_are_utc(tmp_path: Path) -> None:
    data = {**BASE, "general": {"lock_dir": str(tmp_path)}}
    assert parse_settings(data, tmp_path / "cdr1c.toml").report_settings().timezone == "UTC"


def test_a_reports_section_is_taken_as_it_is(tmp_path: Path) -> None:
    data = {**BASE, "reports": {"dir": str(tmp_path / "out"), "timezone": "Europe/Moscow"}}
    settings = parse_settings(data, tmp_path / "cdr1c.toml")
    assert settings.report_settings() is settings.reports
    assert settings.report_settings().dir == tmp_path / "out"


def test_the_reconcile_job_refuses_to_start_without_onec(tmp_path: Path) -> None:
    import jobs.reconcile

    settings = parse_settings({**BASE, "general": {"lock_dir": str(tmp_path)}}, tmp_path / "cdr1c.toml")
    with pytest.raises(ConfigError, match=r"needs an \[onec\] section"):
        jobs.reconcile.run(settings)
    assert not (tmp_path / "reports").exists()
