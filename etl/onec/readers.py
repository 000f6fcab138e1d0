"""Reading 1C: event documents, clients with their phones, managers, employee ↔ extension.

Everything read is cached in ledger tables so reconciliation and reports work offline:

- events (`[onec] event_document`, `Document_Событие` or `Document_ТелефонныйЗвонок`) by date
  windows, `$top/$skip` paging; the call id lives in `[onec] event_call_id_field`. The client is
  a composite field (`Контрагент` + `Контрагент_Type` in Событие, `АбонентКонтакт` in
  ТелефонныйЗвонок, docs/reference/onec-http.md §4.1–4.2), the responsible employee `Ответственный_Key`.
  Event dates are 1C wall clock in `[onec] timezone` (§5) and are stored as UTC microseconds.
- clients (`[onec] client_catalog`) with the manager field if configured (§4.4), and their
  phones from `<catalog>_КонтактнаяИнформация` rows with `Тип eq 'Телефон'`; `НомерТелефона`
  is often empty or partial, so the digits of `Представление` are the fallback (§4.3); every
  number is normalised to E.164 before matching.
- employees (`[onec] users_catalog`), with their extension from a 1C attribute
  (`[onec] user_extension_field`) or the `[onec.extensions]` TOML table (extension → name).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import OnecSettings
from etl.ledger.sql import upsert
from etl.ledger.tables import client_phones, clients, employees, events
from etl.onec.client import EMPTY_GUID, OnecClient
from etl.onec.records import from_wall_clock
from etl.phones import digits, normalise_number

_SEVERAL = re.compile(r"[,;]|\s{2,}")


def event_client_field(cfg: OnecSettings) -> str:
    if cfg.event_client_field:
        return cfg.event_client_field
    return "АбонентКонтакт" if cfg.event_document.endswith("ТелефонныйЗвонок") else "Контрагент"


def _windows(since: datetime, until: datetime, step: timedelta) -> Iterator[tuple[datetime, datetime]]:
    t = since
    while t < until:
        yield t, min(t + step, until)
        t += step


def read_events(
    conn: Connection, client: OnecClient, cfg: OnecSettings, since: datetime, until: datetime
) -> int:
    """Cache the event documents dated in [since, until) (naive 1C wall clock), one day per query."""
    zone = ZoneInfo(cfg.timezone)
    cf = event_client_field(cfg)
    n = 0
    read = now_us()
    for lo, hi in _windows(since, until, timedelta(days=1)):
        flt = (
            f"{cfg.event_date_field} ge datetime'{lo:%Y-%m-%dT%H:%M:%S}' and "
            f"{cfg.event_date_field} lt datetime'{hi:%Y-%m-%dT%H:%M:%S}'"
        )
        batch: list[dict[str, Any]] = []
        for e in client.iter_entities(
            cfg.event_document, filter_=flt, orderby=f"{cfg.event_date_field},Ref_Key"
        ):
            ref = e.get(cf) or e.get(cf + "_Key") or None
            batch.append(
                {
                    "ref_key": e["Ref_Key"],
                    "number": str(e.get("Number", "")),
                    "date_us": from_wall_clock(str(e.get(cfg.event_date_field, "")), zone) or 0,
                    "call_id": str(e.get(cfg.event_call_id_field) or "").strip(),
                    "client_ref": None if ref in (None, "", EMPTY_GUID) else str(ref),
                    "client_type": str(e.get(cf + "_Type", "")).removeprefix("StandardODATA."),
                    "responsible_ref": _ref(e.get(cfg.event_responsible_field)),
                    "subject": str(e.get("Тема") or e.get("ОписаниеСобытия") or ""),
                    "read_us": read,
                }
            )
        upsert(conn, events, batch, update=[c.name for c in events.columns if c.name != "ref_key"])
        n += len(batch)
    return n


def _ref(value: Any) -> str | None:
    return None if value in (None, "", EMPTY_GUID) else str(value)


def phones_of(row: dict[str, Any], region: str) -> set[str]:
    """E.164 numbers of one contact-information row: `НомерТелефона`, else the digits of each
    number in `Представление` (which may list several, docs/reference/onec-http.md §4.3)."""
    out: set[str] = set()
    for raw in (row.get("НомерТелефона"), row.get("НомерТелефонаБезКодов")):
        n = normalise_number(str(raw), region) if raw else None
        if n:
            out.add(n)
    if not out:
        for part in _SEVERAL.split(str(row.get("Представление") or "")):
            d = digits(part)
            n = normalise_number(d, region) if len(d) >= 7 else None
            if n:
                out.add(n)
    return out


def read_clients(conn: Connection, client: OnecClient, cfg: OnecSettings) -> int:
    """Refresh the client catalog (name, manager) and every client's phone numbers."""
    read = now_us()
    rows = []
    for c in client.iter_entities(cfg.client_catalog, filter_="DeletionMark eq false"):
        rows.append(
            {
                "ref_key": c["Ref_Key"],
                "name": str(c.get("Description", "")),
                "manager_ref": _ref(c.get(cfg.manager_field)) if cfg.manager_field else None,
                "read_us": read,
            }
        )
    upsert(conn, clients, rows, update=("name", "manager_ref", "read_us"))
    phones: dict[tuple[str, str], str] = {}
    contacts = cfg.client_catalog + "_КонтактнаяИнформация"
    for r in client.iter_entities(contacts, filter_="Тип eq 'Телефон'"):
        for p in phones_of(r, cfg.region):
            phones[(r["Ref_Key"], p)] = str(r.get("Представление", ""))
    conn.execute(delete(client_phones))
    upsert(
        conn,
        client_phones,
        [{"client_ref": c, "phone": p, "presentation": t} for (c, p), t in phones.items()],
        update=("presentation",),
    )
    return len(rows)


def read_employees(conn: Connection, client: OnecClient, cfg: OnecSettings) -> int:
    """Employees and their extensions: 1C attribute first, `[onec.extensions]` table otherwise."""
    by_name = {name.strip().lower(): ext for ext, name in cfg.extensions.items()}
    by_ref = {name.strip().lower(): ext for ext, name in cfg.extensions.items()}
    rows = []
    for u in client.iter_entities(cfg.users_catalog):
        name = str(u.get("Description", ""))
        ext = str(u.get(cfg.user_extension_field) or "").strip() if cfg.user_extension_field else ""
        ext = ext or by_name.get(name.strip().lower()) or by_ref.get(str(u["Ref_Key"]).lower()) or ""
        rows.append({"ref_key": u["Ref_Key"], "name": name, "extension": ext or None})
    upsert(conn, employees, rows, update=("name", "extension"))
    return len(rows)
