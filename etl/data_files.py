"""Where the SQL text and the report templates are.

They live in the folders `sql/`, `reports/` and `panel/` at the top of the repository; a built wheel ships
them as package data under `etl/_data/` (pyproject.toml maps the folders there), so an installed
cdr1c has no top-level `sql`, `reports` or `panel` package and still finds its files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

HERE = Path(__file__).resolve().parent


def data_folder(name: Literal["sql", "reports", "panel"]) -> Path:
    """The folder `name`: the copy shipped in the package if there is one, else the checkout's."""
    packaged = HERE / "_data" / name
    return packaged if packaged.is_dir() else HERE.parent / name
