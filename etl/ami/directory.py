"""Who is responsible for a caller, from the 1C data the ledger caches.

caller number (normalised) → client (1C contact information) → responsible manager (the
client's manager attribute) → that employee's extension (a 1C attribute or `[onec.extensions]`).
Numbers not found fall back to `[ami.managers]`. Answers are cached for a minute, because the
live component asks on every ringing event and 1C data changes only when `sync` reads it.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Select, select

from etl.ami.routing import DirectoryMatch, ManagerDirectory
from etl.ledger.store import Ledger
from etl.ledger.tables import client_phones, clients, employees
from etl.phones import PhoneNormaliser

CACHE_SECONDS = 60.0


def clients_of_phone(key: str) -> Select[Any]:
    """The 1C clients listed with the normalised number `key`, by name: each one's ref and name,
    and its responsible manager's ref, name and extension (name and extension None when the
    manager is not among the employees the ledger holds)."""
    return (
        select(
            clients.c.ref_key, clients.c.name, clients.c.manager_ref, employees.c.name, employees.c.extension
        )
        .select_from(client_phones)
        .join(clients, clients.c.ref_key == client_phones.c.client_ref)
        .outerjoin(employees, employees.c.ref_key == clients.c.manager_ref)
        .where(client_phones.c.phone == key)
        .order_by(clients.c.name)
    )


class LedgerManagerDirectory:
    def __init__(
        self, ledger: Ledger, normaliser: PhoneNormaliser, fallback: ManagerDirectory | None = None
    ) -> None:
        self.ledger = ledger
        self.normaliser = normaliser
        self.fallback = fallback
        self._cache: dict[str, tuple[float, DirectoryMatch]] = {}

    def lookup(self, number: str) -> DirectoryMatch:
        key = self.normaliser.external(number) or number.strip()
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        match = self._lookup(key)
        if match.extension is None and self.fallback is not None:
            other = self.fallback.lookup(number)
            if other.extension is not None:
                match = other
        self._cache[key] = (time.monotonic(), match)
        return match

    def _lookup(self, key: str) -> DirectoryMatch:
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(clients_of_phone(key)).all()
        if not rows:
            return DirectoryMatch(None, None, f"{key} is not a 1C client's number")
        _, client, manager, employee, extension = rows[0]
        if len(rows) > 1:
            others = ", ".join(sorted({r[1] for r in rows[1:]}))
            reason_more = f" (also listed for {others})"
        else:
            reason_more = ""
        if manager is None:
            return DirectoryMatch(
                client, None, f"{key} is {client}, who has no responsible manager{reason_more}"
            )
        if not extension:
            return DirectoryMatch(
                client, None, f"{client}'s manager {employee or manager} has no extension{reason_more}"
            )
        return DirectoryMatch(
            client, extension, f"{key} is {client}, managed by {employee} at {extension}{reason_more}"
        )
