"""Every table of the reports as CSV (UTF-8 with BOM, so Excel reads Cyrillic) and XLSX.

XLSX is written by openpyxl in write-only mode (pandas' `to_excel` builds a cell object per value
first, several times slower); text cells that a spreadsheet
would take for a formula (`=`, `+`, `-`, `@` first) are prefixed with `'` (CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook

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


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]], sheet: str = "data") -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet[:31])
    ws.append(list(header))
    for r in rows:
        ws.append([_cell(_plain(v)) for v in r])
    tmp = path.with_suffix(".xlsx.tmp")
    wb.save(tmp)
    tmp.replace(path)


def _plain(value: Any) -> Any:
    # openpyxl refuses control characters; hostile strings carry them
    if isinstance(value, str):
        return "".join(ch if ch >= " " or ch in "\t\n" else "\ufffd" for ch in value)
    return value


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
