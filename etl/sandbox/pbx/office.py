"""The sample office behind the PBX history: its numbers, people, clients and call mix."""

from __future__ import annotations

from datetime import datetime

DISPOSITIONS = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"})
AMAFLAGS_DOCUMENTATION = 3

# A fixed anchor keeps `cdr1c demo` output identical from day to day.
ANCHOR = datetime(2026, 11, 1, 0, 0, 0)
DEFAULT_DAYS = 30

TRUNK = "rt-trunk"
TRUNK_CID = "74951230000"
DIDS = ("74951230000", "74951230001", "74951230002")
EMPLOYEES = {
    "101": "Иван Петров",
    "102": "Ольга Смирнова",
    "103": "Сергей Иванов",
    "104": "Анна Кузнецова",
    "105": "Дмитрий Соколов",
    "106": "Елена Попова",
    "107": "Алексей Лебедев",
    "108": "Мария Козлова",
    "109": "Николай Новиков",
    "110": "Татьяна Морозова",
    "111": "Павел Волков",
    "112": "Наталья Фёдорова",
}
EXTENSIONS = tuple(EMPLOYEES)
RING_GROUPS = {"600": ("101", "102", "103"), "601": ("104", "105", "106", "107")}
QUEUE = "400"
QUEUE_MEMBERS = ("108", "109", "110", "111", "112")

FIRST_M = ("Иван", "Пётр", "Алексей", "Сергей", "Андрей", "Михаил", "Олег", "Юрий", "Артём")
FIRST_F = ("Анна", "Мария", "Ольга", "Елена", "Ирина", "Светлана", "Юлия", "Дарья", "Вера")
LAST: tuple[str, ...] = (
    "Петров",
    "Иванов",
    "Сидоров",
    "Кузнецов",
    "Смирнов",
    "Волков",
    "Зайцев",
    "Орлов",
)
LAST += ("Морозов", "Лебедев", "Козлов", "Новиков", "Фёдоров", "Егоров", "Белов", "Титов")
COMPANIES: tuple[str, ...] = (
    "Ромашка",
    "Вектор",
    "Альфа",
    "Стройинвест",
    "Техносервис",
    "Север",
    "Меридиан",
)
COMPANIES += ("Гранит", "Логистик Плюс", "Эталон", "Восход", "Дельта")
FORMS = ("ООО «{}»", "АО «{}»", "ИП {}", "ООО \u201c{}\u201d")
MOBILE = ("903", "905", "909", "915", "916", "917", "925", "926", "977", "985", "999")
LANDLINE = ("495", "499", "812", "343")

# Scenario weights (per call). Sum is normalised.
SCENARIOS: tuple[tuple[str, float], ...] = (
    ("inbound", 0.30),  # DID → extension: answered, no answer (+voicemail/hang-up), busy
    ("ivr_hangup", 0.06),  # caller leaves in the IVR: one ANSWERED row, no dstchannel
    ("ring_group", 0.13),  # several legs, one ANSWERED or none
    ("queue", 0.12),  # member attempts, answered or abandoned
    ("blind_transfer", 0.04),  # 2 rows
    ("attended_transfer", 0.03),  # 3 rows, two uniqueids
    ("outbound", 0.24),  # answered / busy / no answer / congestion / failed
    ("internal", 0.08),
)
LONG_CALL_SHARE = 0.004  # answered calls talking 1–4 hours (their rows are written late)
