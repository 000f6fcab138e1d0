"""Labels in Russian (default) and English, and numbers, durations and dates in the locale's format.

Hand-written rather than Babel: the reports need two locales and four formats, and these
functions run for every cell of a million-call report.
"""

from __future__ import annotations

from typing import Any

from .i18n_overview import OVERVIEW_LABELS

NBSP = "\u00a0"

LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Звонки клиентов",
        "index": "Клиенты",
        "clients": "Клиенты",
        "client": "Клиент",
        "search": "Поиск по имени, номеру, менеджеру…",
        "sort_last": "по последнему контакту",
        "sort_missed": "по пропущенным",
        "sort_name": "по имени",
        "sort": "Сортировка",
        "name": "Имя",
        "phones": "Номера",
        "manager": "Ответственный",
        "no_manager": "Без ответственного",
        "calls_in": "Входящие",
        "calls_out": "Исходящие",
        "missed": "Пропущенные",
        "talk": "Разговор",
        "talk_total": "Время разговоров",
        "wait": "Ожидание",
        "wait_avg": "Среднее ожидание",
        "last_contact": "Последний контакт",
        "callbacks": "Пропущенные без перезвона",
        "callbacks_note": "Входящий пропущенный звонок, после которого в течение {hours} ч не было "
        "отвеченного звонка с этим номером.",
        "open_missed": "Не перезвонили",
        "last_missed": "Последний пропущенный",
        "unknown": "Неизвестные номера (нет в 1С)",
        "number": "Номер",
        "calls": "Звонки",
        "calls_total": "Всего звонков",
        "when": "Дата и время",
        "direction": "Направление",
        "employee": "Сотрудник",
        "outcome": "Итог",
        "recording": "Запись",
        "event": "Событие 1С",
        "linkedid": "ID звонка",
        "inbound": "входящий",
        "outbound": "исходящий",
        "internal": "внутренний",
        "answered": "отвечен",
        "missed_call": "пропущен",
        "per_week": "Звонки по неделям",
        "heatmap": "Звонки по дням недели и часам",
        "weekdays": "Пн Вт Ср Чт Пт Сб Вс",
        "reconciliation": "Сверка с 1С",
        "quality": "Качество данных",
        "status": "Статус",
        "mismatch": "клиент события ≠ клиент номера",
        "no_event": "отвеченный входящий без события",
        "event_without_call": "событие без звонка",
        "matched": "сопоставлено",
        "unlinked": "прочие звонки без события",
        "detail": "Подробности",
        "quarantine": "Карантин (строки CDR, которые не удалось прочитать)",
        "dead_letters": "Отвергнуто 1С (не доставлено)",
        "recording_problems": "Проблемы с записями",
        "runs": "Последние запуски (в т.ч. cdr1c verify)",
        "source": "Источник",
        "reason": "Причина",
        "raw": "Строка",
        "first_seen": "Впервые",
        "message": "Сообщение",
        "kind": "Вид",
        "subject": "Объект",
        "job": "Задание",
        "started": "Начало",
        "exit_code": "Код",
        "summary": "Итоги",
        "count": "Количество",
        "none": "Нет",
        "export": "Выгрузка",
        "generated": "Сформировано",
        "period": "Период",
        "all_time": "за всё время",
        "shown_first": "показаны первые {n} из {total}",
        "no_audio": "браузер не воспроизводит звук",
        "open_1c": "открыть в 1С",
        "back": "← ко всем клиентам",
        "date": "Дата",
        "chart_inbound": "входящие отвеченные",
        "chart_outbound": "исходящие",
        "chart_missed": "входящие пропущенные",
        "number_owners": "номер принадлежит:",
        "cdr_row": "Строка CDR",
        "http_status": "HTTP-статус",
        "onec_code": "Код 1С",
        "rejected_at": "Отвергнуто",
        "seen_at": "Обнаружено",
        "content": "Содержимое",
        "file_or_value": "Файл или значение из CDR",
        "exit_code_long": "Код выхода",
        "problem_missing": "нет файла записи",
        "problem_orphan": "файл без звонка",
        "problem_empty": "пустой файл",
        "problem_unreadable": "файл не читается",
        "problem_duration_mismatch": "длительность не совпадает",
        "problem_refused": "путь отклонён",
        "problem_odd_name": "имя не в UTF-8",
        "run_ok": "успешно",
        "run_attention": "требует внимания",
        "run_failed": "ошибка",
        "run_running": "выполняется",
    },
    "en": {
        "title": "Client calls",
        "index": "Clients",
        "clients": "Clients",
        "client": "Client",
        "search": "Search name, number, manager…",
        "sort_last": "by last contact",
        "sort_missed": "by missed calls",
        "sort_name": "by name",
        "sort": "Sort",
        "name": "Name",
        "phones": "Numbers",
        "manager": "Manager",
        "no_manager": "No manager",
        "calls_in": "Inbound",
        "calls_out": "Outbound",
        "missed": "Missed",
        "talk": "Talk",
        "talk_total": "Talk time",
        "wait": "Wait",
        "wait_avg": "Average wait",
        "last_contact": "Last contact",
        "callbacks": "Missed and not called back",
        "callbacks_note": "An inbound missed call not followed by an answered call with that number "
        "within {hours} h.",
        "open_missed": "Not called back",
        "last_missed": "Last missed",
        "unknown": "Unknown numbers (not in 1C)",
        "number": "Number",
        "calls": "Calls",
        "calls_total": "Calls",
        "when": "Date and time",
        "direction": "Direction",
        "employee": "Employee",
        "outcome": "Outcome",
        "recording": "Recording",
        "event": "1C event",
        "linkedid": "Call ID",
        "inbound": "inbound",
        "outbound": "outbound",
        "internal": "internal",
        "answered": "answered",
        "missed_call": "missed",
        "per_week": "Calls per week",
        "heatmap": "Calls by weekday and hour",
        "weekdays": "Mon Tue Wed Thu Fri Sat Sun",
        "reconciliation": "Reconciliation with 1C",
        "quality": "Data quality",
        "status": "Status",
        "mismatch": "event client ≠ number's client",
        "no_event": "answered inbound call without an event",
        "event_without_call": "event without a call",
        "matched": "matched",
        "unlinked": "other calls without an event",
        "detail": "Detail",
        "quarantine": "Quarantine (CDR rows that could not be read)",
        "dead_letters": "Rejected by 1C (dead letters)",
        "recording_problems": "Recording problems",
        "runs": "Last runs (cdr1c verify included)",
        "source": "Source",
        "reason": "Reason",
        "raw": "Row",
        "first_seen": "First seen",
        "message": "Message",
        "kind": "Kind",
        "subject": "Subject",
        "job": "Job",
        "started": "Started",
        "exit_code": "Code",
        "summary": "Summary",
        "count": "Count",
        "none": "None",
        "export": "Export",
        "generated": "Generated",
        "period": "Period",
        "all_time": "all time",
        "shown_first": "first {n} of {total} shown",
        "no_audio": "this browser cannot play audio",
        "open_1c": "open in 1C",
        "back": "← all clients",
        "date": "Date",
        "chart_inbound": "inbound answered",
        "chart_outbound": "outbound",
        "chart_missed": "inbound missed",
        "number_owners": "the number belongs to",
        "cdr_row": "CDR row",
        "http_status": "HTTP status",
        "onec_code": "1C code",
        "rejected_at": "Rejected",
        "seen_at": "Found",
        "content": "Content",
        "file_or_value": "File or CDR value",
        "exit_code_long": "Exit code",
        "problem_missing": "recording file missing",
        "problem_orphan": "file without a call",
        "problem_empty": "empty file",
        "problem_unreadable": "unreadable file",
        "problem_duration_mismatch": "duration mismatch",
        "problem_refused": "path refused",
        "problem_odd_name": "name not UTF-8",
        "run_ok": "ok",
        "run_attention": "needs attention",
        "run_failed": "failed",
        "run_running": "running",
    },
}

for _lang, _labels in OVERVIEW_LABELS.items():
    LABELS[_lang].update(_labels)


class Locale:
    """Formats for one language: `ru` writes 1 234,5 and 05.11.2026 14:03,
    `en` 1,234.5 and 2026-11-05 14:03."""

    def __init__(self, lang: str) -> None:
        if lang not in LABELS:
            raise ValueError(f"unknown report language {lang!r}")
        self.lang = lang
        self.labels = LABELS[lang]

    def __getitem__(self, key: str) -> str:
        return self.labels[key]

    def integer(self, value: Any) -> str:
        if value is None:
            return ""
        text = f"{int(value):,}"
        return text.replace(",", NBSP) if self.lang == "ru" else text

    def decimal(self, value: float | None, places: int = 1) -> str:
        if value is None or value != value:  # NaN
            return ""
        text = f"{value:,.{places}f}"
        if self.lang == "ru":
            return text.replace(",", NBSP).replace(".", ",")
        return text

    def duration(self, seconds: Any) -> str:
        """`m:ss`, or `h:mm:ss` from an hour on."""
        if seconds is None or seconds != seconds:
            return ""
        s = round(float(seconds))
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"

    def when(self, iso: str) -> str:
        """`YYYY-MM-DDTHH:MM[:SS]` (local) in the locale's order."""
        if not iso:
            return ""
        if self.lang == "ru":
            return f"{iso[8:10]}.{iso[5:7]}.{iso[0:4]} {iso[11:16]}"
        return f"{iso[0:10]} {iso[11:16]}"

    def day(self, iso: str) -> str:
        if self.lang == "ru":
            return f"{iso[8:10]}.{iso[5:7]}.{iso[0:4]}"
        return iso[0:10]

    def word(self, prefix: str, value: str) -> str:
        """The label of a stored code word (`problem_empty`, `run_ok`), else the word itself."""
        return self.labels.get(f"{prefix}_{value}", value)

    def direction(self, value: str) -> str:
        return self.labels.get(value, value)

    def outcome(self, value: str) -> str:
        return self.labels["missed_call"] if value == "missed" else self.labels.get(value, value)
