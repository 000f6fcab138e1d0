"""Helpers for the 1C tests: CDR rows straight into the ledger, settings for a stand-in."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from etl.cdr_columns import CDR_INT_COLUMNS, CDR_TEXT_COLUMNS
from etl.config import (
    DEFAULT_ONEC_FIELDS,
    DEFAULT_ONEC_KEY,
    OnecSettings,
    Settings,
    SourceSettings,
    StateSettings,
)
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from etl.onec.outbox import enqueue

UTC = ZoneInfo("UTC")


def us(text: str, zone: str = "UTC") -> int:
    dt = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    return int(dt.timestamp() * 1_000_000)


def cdr_row(source: str = "default", **values: Any) -> dict[str, Any]:
    """A complete `cdr_rows` row with defaults; row_id = uniqueid:sequence."""
    row: dict[str, Any] = {c: "" for c in CDR_TEXT_COLUMNS}
    row.update({"duration": 0, "billsec": 0, "sequence": 0})
    row.update(
        source=source,
        calldate_us=us("2026-11-25 12:00:00"),
        answer_us=None,
        end_us=None,
        direction="inbound",
        external_number=None,
        extension=None,
        loaded_us=0,
        uniqueid="1795650000.1",
        linkedid="1795650000.1",
        disposition="ANSWERED",
    )
    row.update(values)
    row.setdefault("row_id", f"{row['uniqueid']}:{row['sequence']}")
    if not values.get("row_id"):
        row["row_id"] = f"{row['uniqueid']}:{row['sequence']}"
    row["content_hash"] = hashlib.md5(repr(sorted(row.items())).encode()).hexdigest()
    return row


def insert_rows(ledger: Ledger, rows: Iterable[Mapping[str, Any]], *, queue: bool = True) -> list[str]:
    rows = [dict(r) for r in rows]
    with ledger.begin() as conn:
        conn.execute(cdr_rows.insert(), rows)
        if queue:
            by_source: dict[str, list[str]] = {}
            for r in rows:
                by_source.setdefault(r["source"], []).append(r["row_id"])
            for s, ids in by_source.items():
                enqueue(conn, s, ids)
    return [r["row_id"] for r in rows]


def capture_rows(path: Path, source: str = "default") -> list[dict[str, Any]]:
    """The 48 rows of the shared Asterisk 22 capture (Master_custom.csv: linkedid, sequence),
    as the sync would store them (the PBX ran in UTC)."""
    out = []
    with (path / "Master_custom.csv").open(newline="", encoding="utf-8") as f:
        for rec in csv.reader(f):
            (
                clid,
                src,
                dst,
                dctx,
                chan,
                dchan,
                lapp,
                ldata,
                start,
                answer,
                end,
                dur,
                bill,
                disp,
                ama,
                acct,
                uid,
                ufield,
                linkedid,
                seq,
                recfile,
                did,
            ) = rec[:22]
            out.append(
                cdr_row(
                    source,
                    uniqueid=uid,
                    sequence=int(seq),
                    linkedid=linkedid,
                    accountcode=acct,
                    src=src,
                    dst=dst,
                    dcontext=dctx,
                    clid=clid,
                    channel=chan,
                    dstchannel=dchan,
                    lastapp=lapp,
                    lastdata=ldata,
                    calldate_us=us(start),
                    answer_us=us(answer) if answer else None,
                    end_us=us(end) if end else None,
                    duration=int(dur),
                    billsec=int(bill),
                    disposition=disp,
                    amaflags=ama,
                    userfield=ufield,
                    recordingfile=recfile,
                    did=did,
                    direction="inbound" if dctx.startswith("from-did") else "outbound",
                )
            )
    return out


def onec_settings(url: str, ledger_url: str, **over: Any) -> Settings:
    cfg = dict(
        mode="odata",
        url=url,
        user="Администратор",
        password="пароль-секрет",
        timezone="Europe/Moscow",
        register="InformationRegister_ЗвонкиАТС",
        event_document="Document_Событие",
        event_call_id_field="ИдентификаторЗвонка",
        key=DEFAULT_ONEC_KEY,
        fields=dict(DEFAULT_ONEC_FIELDS),
        concurrency=4,
        timeout=5.0,
        first_timeout=10.0,
        retries=8,
        retry_backoff=0.01,
        retry_backoff_max=0.05,
    )
    cfg.update(over)
    return Settings(
        path=None,
        sources={"default": SourceSettings(name="default", url="sqlite://", timezone="UTC")},
        state=StateSettings(url=ledger_url),
        onec=OnecSettings(**cfg),  # type: ignore[arg-type]
    )


def ledger_count(ledger: Ledger, table: Any) -> int:
    with ledger.engine.connect() as c:
        return len(c.execute(select(table)).all())


_ = (CDR_INT_COLUMNS, UTC)
