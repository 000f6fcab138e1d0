"""A realistic ledger for the report tests: the demo PBX history synced through the real
pipeline, recordings scanned and linked, and a 1C directory (clients, phones, managers,
employees, events and links) written into the 1C cache tables."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from etl.clock import now_us
from etl.config import Settings, parse_settings
from etl.ledger.sql import upsert
from etl.ledger.store import Ledger
from etl.ledger.tables import call_links, calls, client_phones, clients, employees, events
from etl.recordings import link, scan
from etl.reports import ReportSummary, build_reports
from etl.sandbox.pbx import EMPLOYEES, generate_history, write_recordings, write_sqlite
from etl.sync import sync_source

ZONE = "Europe/Moscow"
NS = uuid.UUID("7b0e4c1e-0000-4000-8000-00000000c0de")


def render(settings: Settings, ledger: Ledger, **options: Any) -> ReportSummary:
    """`build_reports` with the sections `cdr1c report` hands it."""
    return build_reports(
        settings.report_settings(), ledger, onec=settings.onec, recordings=settings.recordings, **options
    )


def guid(name: str) -> str:
    return str(uuid.uuid5(NS, name))


def settings_data(
    tmp: Path, ledger_url: str, *, onec: bool = False, lang: str = "ru", url_base: str = ""
) -> dict[str, Any]:
    """The report tests' configuration, as the TOML file would hold it."""
    data: dict[str, Any] = {
        "source": {"url": f"sqlite:///{tmp / 'pbx' / 'cdr.sqlite'}", "timezone": ZONE, "lookback": "6h"},
        "state": {"url": ledger_url},
        "recordings": {"root": str(tmp / "pbx" / "monitor"), "url_base": url_base},
        "reports": {"dir": str(tmp / "reports"), "timezone": ZONE, "lang": lang},
        "general": {"lock_dir": str(tmp)},
    }
    if onec:
        data["onec"] = {
            "mode": "odata",
            "url": "http://127.0.0.1:9/crm",
            "user": "u",
            "password": "p",
            "timezone": ZONE,
        }
    return data


def make_settings(tmp: Path, ledger_url: str, **kw: Any) -> Settings:
    return parse_settings(settings_data(tmp, ledger_url, **kw), tmp / "cdr1c.toml")


def write_config(tmp: Path, ledger_url: str, **kw: Any) -> Path:
    """`settings_data` as a TOML file, for tests that run the command line."""
    lines = []
    for table, values in settings_data(tmp, ledger_url, **kw).items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path = tmp / "cdr1c.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_pbx(
    tmp: Path, ledger_url: str, *, calls_n: int = 250, seed: int = 5, **kw: Any
) -> tuple[Settings, Ledger]:
    rows = list(generate_history(calls_n, seed, timezone=ZONE))
    (tmp / "pbx").mkdir(parents=True, exist_ok=True)
    write_sqlite(tmp / "pbx" / "cdr.sqlite", rows)
    write_recordings(tmp / "pbx" / "monitor", rows)
    settings = make_settings(tmp, ledger_url, **kw)
    ledger = Ledger.open(settings.state.url)
    sync_source(settings.sources["default"], ledger)
    assert settings.recordings is not None
    scan(settings.recordings, ledger)
    link(settings.recordings, ledger)
    return settings, ledger


def numbers_by_calls(ledger: Ledger) -> list[str]:
    with ledger.engine.connect() as conn:
        nums = [n for (n,) in conn.execute(select(calls.c.external_number)) if n]
    return [n for n, _ in sorted(Counter(nums).items(), key=lambda kv: (-kv[1], kv[0]))]


def add_directory(
    ledger: Ledger, numbers: list[str], *, names: list[str] | None = None
) -> dict[str, list[str]]:
    """Clients owning `numbers` (two numbers for the first client), managers among the demo
    employees; returns client ref → its numbers."""
    now = now_us()
    staff = [(guid(f"emp{ext}"), name, ext) for ext, name in EMPLOYEES.items()]
    owned: dict[str, list[str]] = {}
    groups = [numbers[:2]] + [[n] for n in numbers[2:]]
    with ledger.begin() as conn:
        upsert(
            conn,
            employees,
            [{"ref_key": r, "name": n, "extension": e} for r, n, e in staff],
            update=("name", "extension"),
        )
        for i, group in enumerate(groups):
            ref = guid(f"client{i}")
            name = names[i] if names and i < len(names) else f"ООО «Клиент {i}»"
            manager = staff[i % 3][0] if i % 4 else None
            upsert(
                conn,
                clients,
                [{"ref_key": ref, "name": name, "manager_ref": manager, "read_us": now}],
                update=("name", "manager_ref", "read_us"),
            )
            upsert(
                conn,
                client_phones,
                [{"client_ref": ref, "phone": p, "presentation": p} for p in group],
                update=("presentation",),
            )
            owned[ref] = group
    return owned


def link_event(
    ledger: Ledger, source: str, linkedid: str, client_ref: str, event_ref: str, number: str = "1"
) -> None:
    now = now_us()
    with ledger.begin() as conn:
        upsert(
            conn,
            events,
            [
                {
                    "ref_key": event_ref,
                    "number": number,
                    "date_us": now,
                    "call_id": linkedid,
                    "client_ref": client_ref,
                    "read_us": now,
                }
            ],
            update=("number",),
        )
        upsert(
            conn,
            call_links,
            [
                {
                    "source": source,
                    "linkedid": linkedid,
                    "status": "matched",
                    "event_ref": event_ref,
                    "client_ref": client_ref,
                    "phone_client_ref": client_ref,
                    "detail": "",
                    "updated_us": now,
                }
            ],
            update=("status", "event_ref", "client_ref", "updated_us"),
        )
