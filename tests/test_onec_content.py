"""A 1C publication whose OData content lacks an object cdr1c reads (issue 12, item 8).

Over real HTTP against the stand-in: the sync still delivers every CDR row, names the error in
its summary and exits 5 ("finished, but…"), not 4 ("1C unreachable"); `check` says what to add
to the OData content; the standalone jobs that cannot work without the object exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from etl.ledger.store import Ledger
from etl.ledger.tables import runs
from etl.onec.client import content_hint
from etl.sandbox.crm import add_crm_sets
from etl.sandbox.standin import StandIn
from jobs.cli import cli
from tests.capture import load_cdr
from tests.conftest import Databases, require_fixtures

EVENTS = "Document_Событие"
HINT = (
    "add Document_Событие to the OData content: Метаданные.Документы.Событие in the "
    "УстановитьСоставСтандартногоИнтерфейсаOData (SetStandardODataInterfaceContent) call"
)


@pytest.fixture
def stand() -> Iterator[StandIn]:
    with StandIn() as s:
        add_crm_sets(s)
        s.leave_out(EVENTS)
        yield s


def _config(tmp_path: Path, source_url: str, onec_url: str) -> Path:
    path = tmp_path / "cdr1c.toml"
    path.write_text(
        f'[source]\nurl = "{source_url}"\ntimezone = "UTC"\n'
        f'[state]\nurl = "sqlite:///{tmp_path / "ledger.sqlite"}"\n'
        f'[general]\nlock_dir = "{tmp_path}"\n'
        f'[onec]\nurl = "{onec_url}"\nuser = "Администратор"\npassword = "пароль-секрет"\n'
        'timezone = "Europe/Moscow"\nretries = 0\n',
        encoding="utf-8",
    )
    return path


def _last_summary(tmp_path: Path) -> dict[str, object]:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        with ledger.engine.connect() as conn:
            row = conn.execute(select(runs.c.summary).order_by(runs.c.id.desc()).limit(1)).one()
    finally:
        ledger.close()
    summary = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    assert isinstance(summary, dict)
    return summary


def test_sync_without_the_event_document_delivers_and_exits_5(
    tmp_path: Path, databases: Databases, stand: StandIn
) -> None:
    require_fixtures()
    src = databases.url("sqlite")
    rows = load_cdr(src)
    cfg = _config(tmp_path, src, stand.url)
    for attempt in (1, 2):  # every run, not only the first
        result = CliRunner().invoke(cli, ["sync", "--config", str(cfg)])
        assert result.exit_code == 5, (attempt, result.output)
        summary = _last_summary(tmp_path)
        errors = summary["errors"]
        assert isinstance(errors, list) and len(errors) == 1, summary
        assert errors[0].startswith("reconcile: ") and HINT in errors[0]
        assert summary["push"] and "error" not in summary["push"]  # type: ignore[operator]
    assert len(stand.records()) == rows  # the CDR copy is in 1C, once


def test_check_says_what_to_add_and_reconcile_exits_2(
    tmp_path: Path, databases: Databases, stand: StandIn
) -> None:
    require_fixtures()
    src = databases.url("sqlite")
    load_cdr(src)
    cfg = _config(tmp_path, src, stand.url)
    check = CliRunner().invoke(cli, ["check", "--config", str(cfg)])
    assert check.exit_code == 2, check.output
    assert f"event document {EVENTS} is not in the OData content: {HINT}" in check.output
    reconcile = CliRunner().invoke(cli, ["reconcile", "--config", str(cfg)])
    assert reconcile.exit_code == 2, reconcile.output
    assert HINT in reconcile.output


def test_the_hint_names_the_metadata_object_of_each_kind_of_entity_set() -> None:
    assert "Метаданные.РегистрыСведений.ЗвонкиАТС in" in content_hint("InformationRegister_ЗвонкиАТС")
    contacts = content_hint("Catalog_Контрагенты_КонтактнаяИнформация")
    assert contacts.startswith("add Catalog_Контрагенты (its table КонтактнаяИнформация comes with it)")
    assert "Метаданные.Справочники.Контрагенты in" in contacts
    assert content_hint("Odd").startswith("add Odd to the OData content with ")


def test_a_missing_event_field_is_named_by_check_and_refused_as_a_mapping_problem(
    tmp_path: Path, databases: Databases
) -> None:
    require_fixtures()
    src = databases.url("sqlite")
    load_cdr(src)
    with StandIn() as stand:
        add_crm_sets(stand)
        del stand.sets[EVENTS].fields["Date"]  # the document lacks the configured date field
        cfg = _config(tmp_path, src, stand.url)
        check = CliRunner().invoke(cli, ["check", "--config", str(cfg)])
        reconcile = CliRunner().invoke(cli, ["reconcile", "--config", str(cfg)])
        sync = CliRunner().invoke(cli, ["sync", "--config", str(cfg)])
    assert check.exit_code == 2
    assert f"{EVENTS} has no field 'Date' ([onec] event_date_field)" in check.output
    assert reconcile.exit_code == 2 and f"1C refused a query on {EVENTS}" in reconcile.output
    assert sync.exit_code == 5, sync.output
