"""What the pipeline stores in English, in the report's language: the reasons of quarantined
CDR rows and recording problems, and the JSON summaries of runs.

Each stored reason is one of a fixed set of phrasings with values in them (a column, a size, a
path); each phrasing has a pattern here, and its values are carried over as they are. A reason
no pattern knows (an operating system's or an audio library's message) is shown as stored.
A run's summary is its figures as `label: value`, the labels from `SUMMARY_RU` (English: the key
with spaces), the `…_us` times as dates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Translate = Callable[[re.Match[str]], str]


MAX_REASON = 2000  # longer texts are shown as stored (no pattern is tried on them)


def _fixed(text: str, decimals: tuple[int, ...] = ()) -> Translate:
    """`text` with the match's values in order; the groups numbered in `decimals` are numbers
    written with a comma (`5.00` → `5,00`), the others (ids, paths) as they are."""

    def translate(m: re.Match[str]) -> str:
        values = [(g or "").replace(".", ",") if i in decimals else g for i, g in enumerate(m.groups(), 1)]
        return text.format(*values)

    return translate


def _refused(m: re.Match[str]) -> str:
    return f"{m[1]}: {reason_text(m[2], 'ru')}; не использовано"


def _missing(m: re.Match[str]) -> str:
    where = f" (FreePBX ищет в {m[3]}/)" if m[3] else ""
    return f"{m[1]} {m[2]}: такого файла записи нет в корне записей{where}"


RU: list[tuple[re.Pattern[str], Translate]] = [
    (re.compile(p, re.S), t)
    for p, t in [
        # quarantine (etl/normalise.py, etl/sync.py, etl/sources/csvfile.py)
        (r"uniqueid is empty", _fixed("uniqueid пуст")),
        (r"uniqueid longer than (\d+) characters", _fixed("uniqueid длиннее {} символов")),
        (r"(\w+) is not a number", _fixed("{}: не число")),
        (r"negative (\w+)", _fixed("{}: отрицательное значение")),
        (r"billsec greater than duration", _fixed("billsec больше duration")),
        (r"(\w+) is not a date", _fixed("{}: не дата")),
        (r"(\w+) is empty or a sentinel date", _fixed("{}: пусто или нулевая дата")),
        (r"(\w+) is before the start", _fixed("{} раньше начала звонка")),
        (r"(\w+) is in the future", _fixed("{}: дата в будущем")),
        (
            r"identity conflict: another row with the same uniqueid and sequence differs",
            _fixed("конфликт ключа: другая строка с теми же uniqueid и sequence отличается"),
        ),
        (
            r"identity conflict: the ledger holds another row with this uniqueid and sequence",
            _fixed("конфликт ключа: в журнале уже есть другая строка с этими uniqueid и sequence"),
        ),
        (r"expected (\d+) fields, found (\d+)", _fixed("ожидалось полей: {}, найдено: {}")),
        # recordings (etl/recordings/media.py, names.py, scanner.py, linker.py)
        (r"(\d+) bytes: no audio", _fixed("{} байт: нет звука")),
        (r"cannot open: (.*)", _fixed("не открывается: {}")),
        (r"unreadable", _fixed("не читается")),
        (r"not an audio format mutagen knows", _fixed("неизвестный формат звука")),
        (
            r"control character \(NUL, CR, LF…\) in a name from the CDR",
            _fixed("управляющий символ (NUL, CR, LF…) в имени из CDR"),
        ),
        (
            r"'\.\.' in a name from the CDR: it could leave the recordings root",
            _fixed("«..» в имени из CDR: путь мог бы выйти за корень записей"),
        ),
        (r"absolute path outside the recordings root (.*)", _fixed("абсолютный путь вне корня записей {}")),
        (r"names a folder, not a file", _fixed("указывает на папку, а не на файл")),
        (r"(recordingfile|userfield): (.*); not followed", _refused),
        (
            r"(recordingfile|userfield) (.*) names a recording not found under the root"
            r"(?: \(FreePBX would look in (.*)/\))?",
            _missing,
        ),
        (
            r"recording lasts (\S+) s; no leg of call (\S+) has a billsec within (\S+) s of it "
            r"\(nearest differs by (\S+) s\)",
            _fixed(
                "запись длится {} с; ни у одного плеча звонка {} billsec не отличается от неё "
                "меньше чем на {} с (ближайшее отличается на {} с)",
                (1, 3, 4),
            ),
        ),
        (
            r"no CDR row names this file or carries its uniqueid",
            _fixed("ни одна строка CDR не называет этот файл и не содержит его uniqueid"),
        ),
        (
            r"file name is not valid UTF-8; kept byte for byte, shown as (.*); no CDR name can match it",
            _fixed("имя файла не в UTF-8; сохранено побайтно, показано как {}; имя из CDR с ним не совпадёт"),
        ),
        (r"folder cannot be read: (.*)", _fixed("папка не читается: {}")),
        (r"cannot stat: (.*)", _fixed("нет сведений о файле: {}")),
        (r"symlink cannot be resolved: (.*)", _fixed("символическая ссылка не разрешается: {}")),
        (
            r"symlink to (.*) leads outside the recordings root; not followed",
            _fixed("символическая ссылка на {} ведёт за корень записей; не открыта"),
        ),
        (r"(.*); not opened", _fixed("{}; не открыт")),
    ]
]


@lru_cache(maxsize=4096)
def reason_text(reason: str, lang: str) -> str:
    """`reason` in `lang` (stored reasons are English): the first pattern that matches the
    whole text gives it; none gives the text as stored."""
    if lang == "en" or not reason or len(reason) > MAX_REASON:
        return reason
    for pattern, translate in RU:
        m = pattern.fullmatch(reason)
        if m:
            return translate(m)
    return reason


SUMMARY_RU = {
    "sources": "источники",
    "source": "источник",
    "read": "прочитано",
    "new": "новых",
    "duplicates": "повторов",
    "quarantined": "в карантин",
    "calls": "звонков",
    "cursor": "курсор",
    "newest_us": "последний звонок",
    "oldest_new_us": "первый новый звонок",
    "dry_run": "пробный запуск",
    "errors": "ошибки",
    "error": "ошибка",
    "recordings": "записи",
    "scan": "поиск файлов",
    "link": "привязка",
    "found": "найдено",
    "changed": "изменено",
    "removed": "удалено",
    "refused": "отклонено",
    "dirs": "папок",
    "skipped": "пропущено",
    "odd_names": "имён не в UTF-8",
    "empty": "пустых",
    "unreadable": "нечитаемых",
    "linked": "привязано",
    "missing": "нет файла",
    "orphan": "файлов без звонка",
    "duration_mismatch": "длительность не совпадает",
    "by_recordingfile": "по recordingfile",
    "by_userfield": "по userfield",
    "by_uniqueid": "по uniqueid",
    "rows": "строк",
    "full": "полная перепривязка",
    "relinked_calls": "перепривязано звонков",
    "requeued": "переотправлено строк",
    "seconds": "секунд",
    "duration_seconds": "длительность, с",
    "reconcile": "сверка",
    "counts": "итоги",
    "matched": "сопоставлено",
    "mismatch": "клиент события ≠ клиент номера",
    "no_event": "без события",
    "event_without_call": "событие без звонка",
    "unlinked": "прочие без события",
    "requeued_rows": "переотправлено записей",
    "since": "с",
    "until": "по",
    "push": "отправка в 1С",
    "delivered": "доставлено",
    "patched": "исправлено",
    "unchanged": "без изменений",
    "dead": "отвергнуто",
    "requests": "запросов",
    "retried": "повторов запроса",
    "already_held": "уже были в 1С",
    "unreachable": "1С недоступна",
    "mode": "режим",
    "rendered": "страниц сформировано",
    "callbacks": "не перезвонили",
    "days": "дней",
    "mismatched": "расхождения",
    "csv_only": "только в Master.csv",
    "stopped": "остановлено",
    "mode=full": "полный",
    "mode=incremental": "инкрементный",
    "mode=client": "один клиент",
}


def summary_text(raw: str, lang: str, when: Callable[[int | None], str]) -> str:
    """A run's JSON summary as `label: value; …`, nested figures in brackets after their
    label; zeros, empty values and `false` left out. A summary that is not JSON shows as stored."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return raw
    ru = lang == "ru"

    def label(key: str) -> str:
        return SUMMARY_RU.get(key, key) if ru else key.replace("_", " ")

    def value(key: str, v: Any) -> str:
        if isinstance(v, dict):
            inner = ", ".join(p for k, x in v.items() if (p := pair(k, x)))
            return f"({inner})" if inner else ""
        if isinstance(v, list):
            return ", ".join(str(x) for x in v)
        if v is True:
            return "да" if ru else "yes"
        if key.endswith("_us") and isinstance(v, int):
            return when(v)
        if isinstance(v, float) and ru:
            return str(v).replace(".", ",")
        if isinstance(v, str) and ru:
            return SUMMARY_RU.get(f"{key}={v}", v)
        return str(v)

    def pair(key: str, v: Any) -> str:
        if v is None or v is False or v == 0 or v in ("", [], {}):
            return ""
        text = value(key, v)
        return "" if not text else f"{label(key)} {text}" if text[0] == "(" else f"{label(key)}: {text}"

    return "; ".join(p for k, v in data.items() if (p := pair(k, v)))
