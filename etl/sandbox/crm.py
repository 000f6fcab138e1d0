"""The CRM sample data of the 1C stand-in: the event document, clients, their contact
information and users of a typical 1C CRM configuration (`add_crm_sets`), and the demo's 1C
side of a PBX history (`seed_crm`)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from typing import Any

from etl.phones import normalise_number
from etl.sandbox.standin import StandIn

CRM_EVENT_FIELDS: dict[str, tuple[str, int | None]] = {
    "Ref_Key": ("Edm.Guid", None),
    "DataVersion": ("Edm.String", None),
    "DeletionMark": ("Edm.Boolean", None),
    "Number": ("Edm.String", 11),
    "Date": ("Edm.DateTime", None),
    "Posted": ("Edm.Boolean", None),
    "ВидСобытия": ("Edm.String", None),
    "Контрагент": ("Edm.String", None),
    "Контрагент_Type": ("Edm.String", None),
    "Ответственный_Key": ("Edm.Guid", None),
    "НачалоСобытия": ("Edm.DateTime", None),
    "ОкончаниеСобытия": ("Edm.DateTime", None),
    "ОписаниеСобытия": ("Edm.String", 200),
    "ИдентификаторЗвонка": ("Edm.String", 150),
}


def add_crm_sets(stand: StandIn) -> None:
    """Give a stand-in the event document, client catalog, its contact information and users."""
    stand.add_entity_set("Document_Событие", CRM_EVENT_FIELDS)
    stand.add_entity_set(
        "Catalog_Контрагенты",
        {
            "Ref_Key": ("Edm.Guid", None),
            "DeletionMark": ("Edm.Boolean", None),
            "Description": ("Edm.String", 150),
            "Code": ("Edm.String", 9),
            "ОсновнойМенеджерПокупателя_Key": ("Edm.Guid", None),
        },
    )
    stand.add_entity_set(
        "Catalog_Контрагенты_КонтактнаяИнформация",
        {
            "Ref_Key": ("Edm.Guid", None),
            "LineNumber": ("Edm.Int64", None),
            "Тип": ("Edm.String", None),
            "Вид_Key": ("Edm.Guid", None),
            "Представление": ("Edm.String", 500),
            "НомерТелефона": ("Edm.String", 20),
            "НомерТелефонаБезКодов": ("Edm.String", 20),
        },
        key=("Ref_Key", "LineNumber"),
    )
    stand.add_entity_set(
        "Catalog_Пользователи",
        {
            "Ref_Key": ("Edm.Guid", None),
            "Description": ("Edm.String", 100),
            "ВнутреннийНомер": ("Edm.String", 10),
        },
    )


EMPLOYEES = {
    "101": "Иванов Иван", "102": "Смирнова Ольга", "103": "Кузнецов Пётр", "104": "Попова Анна",
    "105": "Соколов Дмитрий", "106": "Лебедева Мария", "107": "Козлов Андрей", "108": "Новикова Елена",
    "109": "Морозов Сергей", "110": "Волкова Наталья", "111": "Фёдоров Алексей", "112": "Егорова Ирина",
}  # fmt: skip


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seed_crm(stand: StandIn, rows: Iterable[dict[str, Any]], seed: int) -> dict[str, int]:
    """1C's side of the demo: employees, clients with their phones (written the ways people
    write them), and events for most answered inbound calls — some with the wrong client, one
    for a call the PBX never had — so reconciliation has every case to show."""
    rng = random.Random(seed)
    add_crm_sets(stand)
    users = {ext: _guid(rng) for ext in EMPLOYEES}
    stand.add_rows(
        "Catalog_Пользователи",
        [{"Ref_Key": users[e], "Description": n, "ВнутреннийНомер": e} for e, n in EMPLOYEES.items()],
    )
    clients: dict[str, str] = {}  # E.164 → client ref
    names: dict[str, str] = {}
    answered: list[dict[str, Any]] = []
    for r in rows:
        if not r["dcontext"].startswith(("from-did", "from-trunk", "ext-group", "ext-queues")):
            continue
        number = normalise_number(r["src"])
        if number is None:
            continue
        if number not in clients and rng.random() < 0.75:  # a quarter of callers are not in 1C
            clients[number] = _guid(rng)
            names[number] = r["cnam"] or f"Клиент {number[-4:]}"
        if r["disposition"] == "ANSWERED" and r["dstchannel"]:
            answered.append(r)
    ext_list = list(EMPLOYEES)
    stand.add_rows(
        "Catalog_Контрагенты",
        [
            {
                "Ref_Key": ref,
                "Description": names[num],
                "DeletionMark": False,
                "ОсновнойМенеджерПокупателя_Key": users[rng.choice(ext_list)],
            }
            for num, ref in clients.items()
        ],
    )
    forms = ["8 {a} {b}-{c}-{d}", "+7 ({a}) {b}-{c}-{d}", "7{a}{b}{c}{d}", "{a}{b}{c}{d}"]
    contacts = []
    for num, ref in clients.items():
        written = rng.choice(forms).format(a=num[2:5], b=num[5:8], c=num[8:10], d=num[10:12])
        contacts.append(
            {
                "Ref_Key": ref,
                "LineNumber": 1,
                "Тип": "Телефон",
                "НомерТелефона": num[2:] if rng.random() < 0.5 else "",  # often empty in real bases
                "Представление": written,
            }
        )
    stand.add_rows("Catalog_Контрагенты_КонтактнаяИнформация", contacts)
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    refs = list(clients.values())

    def event(call_id: str, when: str, client: str | None, responsible: str, text: str) -> dict[str, Any]:
        return {
            "Ref_Key": _guid(rng),
            "Date": when,
            "Number": f"00-{len(events) + 1:06d}",
            "ВидСобытия": "ТелефонныйЗвонок",
            "ИдентификаторЗвонка": call_id,
            "Контрагент": client or "",
            "Контрагент_Type": "StandardODATA.Catalog_Контрагенты" if client else "",
            "Ответственный_Key": responsible,
            "НачалоСобытия": when,
            "ОписаниеСобытия": text,
        }

    for r in answered:
        if r["linkedid"] in seen or rng.random() > 0.7:  # 30% of answered calls nobody recorded
            continue
        seen.add(r["linkedid"])
        client = clients.get(normalise_number(r["src"]) or "")
        if client and rng.random() < 0.05 and len(refs) > 1:  # the manager picked the wrong client
            client = rng.choice([x for x in refs if x != client])
        when = r["calldate"].strftime("%Y-%m-%dT%H:%M:%S")
        events.append(
            event(r["linkedid"], when, client, users.get(r["dst"], users["101"]), "Входящий звонок")
        )
    if answered:  # an event whose call id this PBX never had
        when = answered[-1]["calldate"].strftime("%Y-%m-%dT%H:%M:%S")
        events.append(event("1790000000.1", when, None, users["101"], "Звонок не из этой АТС"))
    stand.add_rows("Document_Событие", events)
    return {"clients": len(clients), "events": len(events), "employees": len(EMPLOYEES)}
