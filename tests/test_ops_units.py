"""The crontab example and the systemd units in cron/: parsed, checked, and verified by systemd."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from jobs.cli import cli
from tests.conftest import ROOT

CRON = ROOT / "cron"
SERVICES = ["cdr1c-sync.service", "cdr1c-report.service", "cdr1c-schedule.service", "cdr1c-live.service"]
TIMERS = {"cdr1c-sync.timer": "cdr1c-sync.service", "cdr1c-report.timer": "cdr1c-report.service"}
LONG_RUNNING = {"cdr1c-schedule.service", "cdr1c-live.service"}
BINARY = "/opt/cdr1c/bin/cdr1c"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections → key → every value (systemd keys repeat: ReadWritePaths, Environment, …)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = out.setdefault(m[1], {})
            continue
        assert section is not None, f"{path.name}:{n}: a key before any section"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z]+", key.strip()), f"{path.name}:{n}: not KEY=VALUE: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_expected_files_are_there() -> None:
    names = {p.name for p in CRON.iterdir()}
    assert {*SERVICES, *TIMERS, "crontab.example"} <= names


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_hardened_and_runs_a_real_verb(name: str) -> None:
    unit = parse_unit(CRON / name)
    svc = {k: v[-1] for k, v in unit["Service"].items()}
    assert unit["Unit"]["Description"]
    assert svc["User"] == "cdr1c" and svc["Group"] == "cdr1c"
    for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                       "ProtectHome": "yes"}.items():  # fmt: skip
        assert svc[key] == value, key
    assert unit["Service"]["EnvironmentFile"] == ["/etc/cdr1c/secrets.env"]
    writable = " ".join(unit["Service"]["ReadWritePaths"]).split()
    # The ledger and reports (StateDirectory), and the lock dir of the example configuration.
    lock_dir = tomllib.loads((ROOT / "cdr1c.example.toml").read_text())["general"]["lock_dir"]
    assert "/var/lib/cdr1c" in writable and lock_dir in writable
    assert svc["StateDirectory"] == "cdr1c" and svc["RuntimeDirectory"] == lock_dir.removeprefix("/run/")
    assert svc["RuntimeDirectoryPreserve"] == "yes"  # a lock dir removed under a running job = overlap
    exe, *args = svc["ExecStart"].split()
    assert exe == BINARY and args[-1] in cli.commands, svc["ExecStart"]
    if name in LONG_RUNNING:
        assert svc["Restart"] in ("on-failure", "always") and "RestartSec" in svc
        assert svc["RestartPreventExitStatus"] == "2"  # a config error does not fix itself
        assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    else:
        assert svc["Type"] == "oneshot" and svc["SuccessExitStatus"] == "6"  # lock held is no failure


@pytest.mark.parametrize("name", sorted(TIMERS))
def test_timer_points_at_its_service_with_a_valid_calendar(name: str) -> None:
    unit = parse_unit(CRON / name)
    timer = {k: v[-1] for k, v in unit["Timer"].items()}
    assert timer["Unit"] == TIMERS[name] and (CRON / timer["Unit"]).exists()
    assert timer["Persistent"] == "true"
    assert unit["Install"]["WantedBy"] == ["timers.target"]
    if not Path(SYSTEMD_ANALYZE).exists():
        pytest.skip("systemd-analyze is not installed: the OnCalendar expression cannot be checked")
    check = subprocess.run([SYSTEMD_ANALYZE, "calendar", timer["OnCalendar"]], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` on copies whose ExecStart names this checkout's cdr1c (the
    installed path does not exist here); it needs no running systemd for unit files."""
    if not Path(SYSTEMD_ANALYZE).exists():
        pytest.skip("systemd-analyze is not installed")
    here = Path(sys.executable).parent / "cdr1c"
    assert here.exists(), "the cdr1c entry point of this environment"
    probe = tmp_path / "probe" / "cdr1c-probe.service"
    probe.parent.mkdir()
    probe.write_text(f"[Service]\nType=oneshot\nExecStart={here} --help\n")
    works = subprocess.run([SYSTEMD_ANALYZE, "verify", str(probe)], capture_output=True, text=True)
    if works.returncode != 0:  # e.g. a container without the pieces verify needs
        pytest.skip(f"systemd-analyze verify cannot run here: {works.stderr.strip()[:300]}")
    copies = []
    for name in [*SERVICES, *TIMERS]:
        text = (CRON / name).read_text()
        assert BINARY in text or name.endswith(".timer")
        (tmp_path / name).write_text(text.replace(BINARY, str(here)))
        copies.append(str(tmp_path / name))
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", *copies], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # Warnings (an unknown key, a bad value) do not change the exit status: none may appear.
    assert not [line for line in result.stderr.splitlines() if "cdr1c-" in line], result.stderr


def test_crontab_example() -> None:
    lines = [
        line.strip()
        for line in (CRON / "crontab.example").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    verbs = []
    for line in lines:
        if re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S+", line):
            continue  # an environment line
        fields = line.split(None, 6)
        assert len(fields) == 7, line
        CronTrigger.from_crontab(" ".join(fields[:5]))  # a valid schedule
        assert fields[5] == "cdr1c"  # /etc/cron.d format: the user
        m = re.search(rf"exec {re.escape(BINARY)} (\w+)'", fields[6])
        assert m and m[1] in cli.commands, line
        assert ". /etc/cdr1c/secrets.env" in fields[6] and "%" not in fields[6]  # % is special in cron
        verbs.append(m[1])
    assert "sync" in verbs and "prune" in verbs
