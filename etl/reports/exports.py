"""Every table of the reports as CSV (UTF-8 with BOM, so Excel reads Cyrillic) and XLSX.

XLSX is written here directly: a minimal SpreadsheetML package (content types, workbook, one
sheet of inline strings and numbers), deflated at level 1. openpyxl's write-only mode ran at
~50,000 cells/s and XlsxWriter at ~270,000; the index of 20,000 clients has ~400,000 cells
and is rewritten on every incremental run. Text cells that a spreadsheet would take for a
formula (`=`, `+`, `-`, `@` first) are prefixed with `'` (CSV injection); characters XML 1.0
cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF) become U+FFFD.
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        if value.startswith("+") and value[1:].isdigit():  # an E.164 number is not a formula
            return value
        return "'" + value
    return value


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[_cell(v) if isinstance(v, str) else v for v in r] for r in rows])


_BAD_XML = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_PACKAGE = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"


def _xml_text(value: str) -> str:
    if _BAD_XML.search(value):
        value = _BAD_XML.sub("\ufffd", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _column(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def _xml_cell(ref: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return (
            f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{_xml_text(_cell(value))}</t></is></c>'
        )
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if isinstance(value, float):
        return f'<c r="{ref}"><v>{float(value)!r}</v></c>' if math.isfinite(value) else ""
    try:  # numpy scalars and the like
        number = float(value)
    except (TypeError, ValueError):
        return _xml_cell(ref, str(value))
    return _xml_cell(ref, int(number) if number.is_integer() and "." not in str(value) else number)


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], sheet: str = "data") -> None:
    width = max([len(header), *(len(r) for r in rows)]) if rows else len(header)
    cols = [_column(i) for i in range(width)]
    parts = [_SHEET_HEAD]
    for n, r in enumerate([header, *rows], 1):
        parts.append(f'<row r="{n}">')
        parts.extend([_xml_cell(f"{c}{n}", v) for c, v in zip(cols, r, strict=False)])
        parts.append("</row>")
    parts.append(_SHEET_TAIL)
    tmp = path.with_suffix(".xlsx.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, text in _PACKAGE.items():
            z.writestr(name, text)
        name = _xml_text(sheet[:31]).replace('"', "&quot;")
        z.writestr("xl/workbook.xml", _WORKBOOK.format(name=name))
        z.writestr("xl/worksheets/sheet1.xml", "".join(parts).encode("utf-8"))
    tmp.replace(path)


def write_table(
    folder: Path, stem: str, header: Sequence[str], rows: Sequence[Sequence[Any]], *, xlsx: bool = True
) -> list[str]:
    """Writes `stem`.csv (and `stem`.xlsx); returns the file names written."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / f"{stem}.csv", header, rows)
    names = [f"{stem}.csv"]
    if xlsx:
        write_xlsx(folder / f"{stem}.xlsx", header, rows)
        names.append(f"{stem}.xlsx")
    return names
