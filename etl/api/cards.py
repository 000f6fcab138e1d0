"""The incoming-call card: who a number is in 1C and what happened with it lately, read from the
ledger (the 1C data the last `sync` read, and the calls the ledger holds).

- client: name, its responsible manager (name, extension), and a 1C navigation link
  `e1cib/data/Справочник.<catalog>?ref=<32 hex>` (docs/reference/onec-http.md §5a);
- the last calls with that number (any direction), newest first;
- the open missed calls: inbound calls from that number that nobody answered and after which no
  call with the number was answered (as the reports count "callbacks owed").

Pure reads; the caller runs them in a thread (the ledger may be MariaDB or PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from etl.ami.directory import clients_of_phone
from etl.e1cib import NAME_RE, href
from etl.ledger.store import Ledger
from etl.ledger.tables import calls
from etl.phones import PhoneNormaliser

LAST_CALLS = 5


def catalog_name(entity_set: str) -> str:
    """`Catalog_Контрагенты` → `Контрагенты` (the 1C metadata name of a link)."""
    name = entity_set.removeprefix("Catalog_")
    return name if NAME_RE.match(name) else "Контрагенты"


def client_href(guid: str, catalog: str, base: str = "") -> str | None:
    return href("Справочник", catalog_name(catalog), guid, base)


def _iso(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")


class CardSource:
    def __init__(
        self,
        ledger: Ledger,
        normaliser: PhoneNormaliser,
        client_catalog: str = "Catalog_Контрагенты",
        link_base: str = "",
    ) -> None:
        self.ledger = ledger
        self.normaliser = normaliser
        self.client_catalog = client_catalog
        self.link_base = link_base

    def card(self, number: str) -> dict[str, Any]:
        key = self.normaliser.external(number) or number.strip()
        with self.ledger.engine.connect() as conn:
            found = conn.execute(clients_of_phone(key)).first()
            rows = conn.execute(
                select(
                    calls.c.linkedid,
                    calls.c.start_us,
                    calls.c.direction,
                    calls.c.outcome,
                    calls.c.extension,
                    calls.c.talk,
                )
                .where(calls.c.external_number == key)
                .order_by(calls.c.start_us.desc())
                .limit(200)
            ).all()
        client = None
        if found is not None:
            ref, name, _, manager, extension = found
            client = {
                "ref": ref,
                "name": name,
                "manager": manager,
                "manager_extension": extension,
                "link": client_href(ref, self.client_catalog, self.link_base),
            }
        history = [
            {
                "linkedid": r.linkedid,
                "start": _iso(r.start_us),
                "direction": r.direction,
                "outcome": r.outcome,
                "extension": r.extension,
                "talk": r.talk,
            }
            for r in rows
        ]
        missed = []
        for r in history:  # newest first: the open missed calls are those before an answered one
            if r["outcome"] == "answered":
                break
            if r["direction"] == "inbound":
                missed.append(r)
        return {"number": key, "client": client, "last_calls": history[:LAST_CALLS], "open_missed": missed}
