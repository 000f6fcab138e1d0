"""The import budget of the command line (issue 18): `cdr1c --help` and a `cdr1c sync` that finds
nothing new load no heavy library (pandas, numpy, SQLAlchemy, …). Each is run as its own
process, as cron runs it, and reports the modules it ended with; the no-op sync must also
really have been one (its run record says the windows were unchanged)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.capture import capture_rows, load_cdr
from tests.conftest import ROOT, Databases, require_fixtures

HEAVY = ("pandas", "numpy", "sqlalchemy", "pyarrow", "httpx", "jinja2", "apscheduler", "starlette", "mutagen")

PROBE = """
import json, sys
from jobs.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def run_cli(*args: str, cwd: Path) -> tuple[int, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    report = json.loads(out.stderr.strip().splitlines()[-1])
    return int(report["code"] or 0), report["modules"]


def heavy(modules: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code, modules = run_cli("--help", cwd=tmp_path)
    assert code == 0
    assert heavy(modules) == []


@pytest.mark.parametrize("source_backend", ["sqlite", "mariadb", "postgres"])
def test_noop_sync_imports_nothing_heavy(databases: Databases, source_backend: str, tmp_path: Path) -> None:
    require_fixtures()
    src_url = databases.url(source_backend)
    load_cdr(src_url, capture_rows())
    (tmp_path / "cdr1c.toml").write_text(
        f'[source]\nurl = "{src_url}"\n\n[state]\nurl = "sqlite:///ledger.sqlite"\n\n'
        '[general]\nlock_dir = "locks"\n',
        encoding="utf-8",
    )
    for _ in range(2):  # the first read, then a run that finds nothing new and keeps the digest
        code, modules = run_cli("sync", cwd=tmp_path)
        assert code == 0
        assert "pandas" in modules  # the full path (the probe sees real imports)
    code, modules = run_cli("sync", cwd=tmp_path)
    assert code == 0
    assert heavy(modules) == []
    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:
        runs = conn.execute("SELECT status, exit_code, summary FROM runs ORDER BY id").fetchall()
    assert [r[:2] for r in runs] == [("ok", 0)] * 3
    assert json.loads(runs[-1][2])["window_unchanged"] is True
    assert json.loads(runs[-1][2])["sources"]["default"]["read"] == 48
