"""The built wheel: SQL text and report templates ship as package data, not as top-level packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "etl", "jobs", "sql", "reports", "panel")


def clean_copy(to: Path) -> Path:
    """The distribution's sources alone: setuptools builds in place and would otherwise pack
    whatever an earlier build left in build/."""
    to.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, to / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, to / name)
    return to


def test_wheel_ships_sql_and_templates_under_etl_not_as_top_level_packages(tmp_path: Path) -> None:
    source = clean_copy(tmp_path / "src")
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("cdr1c-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {n.split("/")[0] for n in names if "/" in n}
    assert {"sql", "reports", "panel"} & top == set()
    assert top - {"etl", "jobs"} == {next(t for t in top if t.endswith(".dist-info"))}
    shipped = {ROOT / n.removeprefix("etl/_data/") for n in names if n.startswith("etl/_data/")}
    wanted = {p for folder in ("sql", "reports", "panel") for p in (ROOT / folder).rglob("*") if p.is_file()}
    assert {p for p in wanted if "__pycache__" not in p.parts} == shipped
    modules = {p.relative_to(ROOT).as_posix() for d in ("etl", "jobs") for p in (ROOT / d).rglob("*.py")}
    assert modules - names == set()  # every package is listed in pyproject.toml
