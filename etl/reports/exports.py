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
import io
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


_LINE = io.StringIO()
_LINE_WRITER = csv.writer(_LINE)


def csv_line(row: Sequence[Any]) -> str:
    """One row as the CSV writer writes it (line end included); formula-like text neutralised."""
    _LINE.seek(0)
    _LINE.truncate()
    _LINE_WRITER.writerow([_cell(v) if isinstance(v, str) else v for v in row])
    return _LINE.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)  # the same dialect as `csv_line`, one writerows for the table
    w.writerow([_cell(v) if isinstance(v, str) else v for v in header])
    w.writerows([[_cell(v) if isinstance(v, str) else v for v in r] for r in rows])
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        f.write(buf.getvalue())


def write_csv_lines(path: Path, header: Sequence[str], lines: Sequence[str]) -> None:
    """A CSV from rows already made by `csv_line` (the index keeps them per client)."""
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        f.write(csv_line(header))
        f.write("".join(lines))


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


def _xml_cell(value: Any) -> str:
    """One cell without a reference (`r` is optional in SpreadsheetML: a cell is in the next
    column, a row is the next row), so a row's cells can be made once and placed anywhere; an
    empty value is an empty cell, which keeps the columns after it in place."""
    if value is None:
        return "<c/>"
    if isinstance(value, str):
        text = _xml_text(_cell(value))
        if text and (text[0].isspace() or text[-1].isspace()):  # Excel trims unless told not to
            return f'<c t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
        return f'<c t="inlineStr"><is><t>{text}</t></is></c>'
    if isinstance(value, bool):
        return f'<c t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f"<c><v>{value}</v></c>"
    if isinstance(value, float):
        return f"<c><v>{float(value)!r}</v></c>" if math.isfinite(value) else "<c/>"
    try:  # numpy scalars and the like
        number = float(value)
    except (TypeError, ValueError):
        return _xml_cell(str(value))
    return _xml_cell(int(number) if number.is_integer() and "." not in str(value) else number)


def xlsx_cells(row: Sequence[Any]) -> str:
    """A row's cells as sheet XML, without references (see `_xml_cell`): the index keeps them
    per client and `write_xlsx_cells` only joins them."""
    return "".join([_xml_cell(v) for v in row])


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], sheet: str = "data") -> None:
    write_xlsx_cells(path, header, [xlsx_cells(r) for r in rows], sheet)


def write_xlsx_cells(
    path: Path, header: Sequence[str], rows: Sequence[str], sheet: str = "data", *, deflate: bool = True
) -> None:
    """An XLSX from rows already made by `xlsx_cells` (one join: no row or cell numbers to put
    in); `deflate=False` stores the parts uncompressed (the index tables, rewritten on every
    incremental run: deflating ~30 MB of sheet XML was ~0.07 s of a ~1 s run; the files are
    larger, any reader takes them)."""
    body = "</row><row>".join([xlsx_cells(header), *rows]).encode("utf-8")
    tmp = path.with_suffix(".xlsx.tmp")
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(tmp, "w", method, compresslevel=1 if deflate else None) as z:
        for name, text in _PACKAGE.items():
            z.writestr(name, text)
        name = _xml_text(sheet[:31]).replace('"', "&quot;")
        z.writestr("xl/workbook.xml", _WORKBOOK.format(name=name))
        with z.open("xl/worksheets/sheet1.xml", "w") as w:  # no joined copy of the ~15 MB sheet
            w.write(f"{_SHEET_HEAD}<row>".encode())
            w.write(body)
            w.write(f"</row>{_SHEET_TAIL}".encode())
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


def write_table_lines(
    folder: Path, stem: str, header: Sequence[str], csv_lines: Sequence[str], xlsx_rows: Sequence[str]
) -> list[str]:
    """`write_table` from rows made by `csv_line` and `xlsx_cells`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv_lines(folder / f"{stem}.csv", header, csv_lines)
    write_xlsx_cells(folder / f"{stem}.xlsx", header, xlsx_rows, deflate=False)
    return [f"{stem}.csv", f"{stem}.xlsx"]
