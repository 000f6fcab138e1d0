"""The reasons the pipeline stores in English (quarantined CDR rows, recording problems), in
the report's language.

Each stored reason is one of a fixed set of phrasings with values in them (a column, a size, a
path); each phrasing has a pattern here, and its values are carried over as they are. A reason
no pattern knows (an operating system's or an audio library's message) is shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Translate = Callable[[re.Match[str]], str]


def _fixed(text: str) -> Translate:
    return lambda m: text.format(*m.groups())


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
                "меньше чем на {} с (ближайшее отличается на {} с)"
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
    if lang == "en" or not reason:
        return reason
    for pattern, translate in RU:
        m = pattern.fullmatch(reason)
        if m:
            return translate(m)
    return reason
