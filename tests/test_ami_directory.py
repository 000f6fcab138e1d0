"""Smart routing's directory from 1C data in the ledger: number → client → manager → extension."""

from __future__ import annotations

from etl.ami.directory import LedgerManagerDirectory
from etl.ami.routing import TomlManagerDirectory
from etl.ledger.store import Ledger
from etl.ledger.tables import client_phones, clients, employees
from etl.phones import PhoneNormaliser

ROMASHKA, ANNA, NOBODY = (
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
    "33333333-3333-3333-3333-333333333333",
)
IVAN, OLGA = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"


def test_lookup_through_the_ledger(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    with ledger.begin() as c:
        c.execute(employees.insert(), [
            {"ref_key": IVAN, "name": "Иван Петров", "extension": "101"},
            {"ref_key": OLGA, "name": "Ольга Смирнова", "extension": None},
        ])  # fmt: skip
        c.execute(clients.insert(), [
            {"ref_key": ROMASHKA, "name": "ООО «Ромашка»", "manager_ref": IVAN, "read_us": 0},
            {"ref_key": ANNA, "name": "Петрова Анна", "manager_ref": OLGA, "read_us": 0},
            {"ref_key": NOBODY, "name": "Без менеджера", "manager_ref": None, "read_us": 0},
        ])  # fmt: skip
        c.execute(client_phones.insert(), [
            {"client_ref": ROMASHKA, "phone": "+79161234567", "presentation": "8 916 123-45-67"},
            {"client_ref": ANNA, "phone": "+79031112233", "presentation": "+7 903 111 22 33"},
            {"client_ref": NOBODY, "phone": "+74951112233", "presentation": "495 111 22 33"},
        ])  # fmt: skip
    norm = PhoneNormaliser("RU")
    fallback = TomlManagerDirectory({"+79990001122": "105"}, norm)
    d = LedgerManagerDirectory(ledger, norm, fallback)
    hit = d.lookup("89161234567")  # any form of the number
    assert (hit.client, hit.extension) == ("ООО «Ромашка»", "101")
    assert "Иван Петров" in hit.reason
    no_ext = d.lookup("+7 903 111-22-33")
    assert (no_ext.client, no_ext.extension) == ("Петрова Анна", None) and "no extension" in no_ext.reason
    assert d.lookup("74951112233").extension is None
    assert d.lookup("79990001122").extension == "105"  # not in 1C: the TOML table answers
    unknown = d.lookup("79000000000")
    assert unknown.extension is None and "not a 1C client" in unknown.reason
    ledger.close()
