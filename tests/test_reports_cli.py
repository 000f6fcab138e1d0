"""`cdr1c report` on the command line: it names only files it wrote (or that exist), exits 2
when nothing matches `--client`, and leaves no folder behind when it writes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from tests.reports_support import add_directory, build_pbx, numbers_by_calls, write_config


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, list[str]]]:
    tmp = tmp_path_factory.mktemp("pbx")
    url = f"sqlite:///{tmp / 'l.sqlite'}"
    _, ledger = build_pbx(tmp, url, calls_n=80, seed=4)
    numbers = numbers_by_calls(ledger)
    owned = add_directory(ledger, numbers[:3])
    ledger.close()
    return write_config(tmp, url), numbers, owned


def report(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "report", *args])
    return result.exit_code, result.output


def opened(output: str) -> list[Path]:
    return [Path(p) for p in re.findall(r"^open: (.+)$", output, re.M)]


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


def test_client_prints_its_page_and_nothing_it_did_not_write(
    pbx: tuple[Path, list[str], dict[str, list[str]]], tmp_path: Path
) -> None:
    config, _, owned = pbx
    ref, numbers = next(iter(owned.items()))
    out = tmp_path / "one"
    code, output = report(config, "--client", numbers[0], "--out", str(out))
    assert code == 0, output
    assert opened(output) == [out.resolve() / "clients" / f"{ref}.html"]
    assert not (out / "index.html").exists()
    # every path printed exists; the run again (nothing changed) still points at that page
    code, again = report(config, "--client", ref, "--out", str(out))
    assert code == 0 and opened(again) == opened(output)
    assert all(p.is_file() for p in opened(again))


def test_a_full_run_points_at_the_overview(
    pbx: tuple[Path, list[str], dict[str, list[str]]], tmp_path: Path
) -> None:
    config, _, _ = pbx
    code, output = report(config, "--out", str(tmp_path / "all"))
    assert code == 0, output
    assert opened(output) == [(tmp_path / "all").resolve() / "overview.html"]  # the first page
    assert opened(output)[0].is_file()


@pytest.mark.parametrize("client", ["+7 999 000-00-00", "not-a-client"])
def test_nothing_matching_the_client_exits_2_and_leaves_nothing(
    pbx: tuple[Path, list[str], dict[str, list[str]]], tmp_path: Path, client: str
) -> None:
    config, numbers, _ = pbx
    assert "+79990000000" not in numbers
    out = tmp_path / "nothing"
    code, output = report(config, "--client", client, "--out", str(out))
    assert code == 2, output
    assert "--client" in output and client in output
    assert "open:" not in output and "rendered" not in output
    assert files_under(out) == [] and not out.exists()


def test_a_number_with_calls_only_outside_the_period_exits_2(
    pbx: tuple[Path, list[str], dict[str, list[str]]], tmp_path: Path
) -> None:
    config, numbers, _ = pbx
    out = tmp_path / "old"
    code, output = report(
        config, "--client", numbers[-1], "--since", "2001-01-01", "--until", "2001-01-31", "--out", str(out)
    )
    assert code == 2, output
    assert "2001-01-01" in output and not out.exists()
