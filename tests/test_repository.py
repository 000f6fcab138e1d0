"""The repository stands alone: its tests read their data from tests/fixtures, and no tracked
file names a place outside the checkout (a machine's folders, a sibling `shared/` copy)."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import AMI_WIRE, CAPTURE, LIVE_SCENARIOS, ROOT

OUTSIDE = ("../shared", "shared/fixtures", "shared/docs", "CDR1C_SHARED")


def tracked_text_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [p for p in out.stdout.splitlines() if not p.startswith("tests/fixtures/")]


@pytest.mark.parametrize("folder", [CAPTURE, AMI_WIRE, LIVE_SCENARIOS], ids=lambda p: p.name)
def test_fixtures_are_inside_the_repository_with_their_readme(folder) -> None:
    assert folder.is_relative_to(ROOT / "tests" / "fixtures")
    assert (folder / "README.md").is_file()


def test_no_tracked_file_names_a_place_outside_the_checkout() -> None:
    here = str(ROOT)
    offenders = []
    for rel in tracked_text_files():
        if rel == "tests/test_repository.py":
            continue
        try:
            text = (ROOT / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for needle in (here, *OUTSIDE):
            if needle in text:
                offenders.append(f"{rel}: {needle}")
    assert not offenders, offenders
