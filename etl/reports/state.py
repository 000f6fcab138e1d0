"""Ledger tables of the reports stage: what each page was last rendered from.

- `report_pages`: per output folder (`target`, sha1 of its absolute path) and page, the hash
  of the data the page was rendered from. A page whose data hash is unchanged (and whose file
  still exists) is not rendered again.
- `report_rows`: every client (or unknown number) as last computed, as the index needs it:
  its sort keys, its 1C fingerprint and numbers (the dirty check), and its pieces of the index
  already rendered and escaped (the clients table row as HTML, CSV and XLSX cells, its
  unknown-numbers row, its missed-and-not-called-back rows), so an incremental run
  concatenates 20,000 stored rows in order instead of rendering them again.
  (`report_parties`, the JSON summaries of earlier versions, is no longer used: a ledger that
  has it may drop it.)
- `report_marks`: watermarks (newest `calls.updated_us`, …) and the settings fingerprint
  per target; a changed fingerprint means a full run.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text
from sqlalchemy.dialects import mysql

from etl.store import metadata

report_pages = Table(
    "report_pages",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("page", String(200), primary_key=True),
    Column("data_hash", String(32), nullable=False),
    Column("rendered_us", BigInteger, nullable=False),
)

# MySQL's TEXT stops at 64 kB; a party's rows carry unclipped foreign strings
LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

report_rows = Table(
    "report_rows",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("party_id", String(64), primary_key=True),  # 1C Ref_Key, or "n" + E.164 digits
    Column("kind", String(8), nullable=False),  # client | number
    Column("fp", String(32), nullable=False),  # the 1C card's fingerprint ("" for a number)
    Column("phones", Text, nullable=False),  # E.164 numbers, space-separated
    Column("manager", Text, nullable=False),
    Column("last_us", BigInteger),  # sort keys of the index
    Column("total", Integer, nullable=False),
    Column("row_hash", String(32), nullable=False),  # of everything below
    Column("row_html", LONG_TEXT, nullable=False),  # the clients table: escaped HTML row
    Column("row_csv", LONG_TEXT, nullable=False),  # … one CSV line
    Column("row_xlsx", LONG_TEXT, nullable=False),  # … XLSX cells (no references: see exports)
    Column("unknown_html", LONG_TEXT),  # an unknown number's row: HTML, CSV, XLSX cells
    Column("unknown_csv", LONG_TEXT),
    Column("unknown_xlsx", LONG_TEXT),
    # missed and not called back: JSON [[last_us, number, len html, len csv, len xlsx], …]
    # (small: a JSON decode of the escaped pieces themselves cost ~12 µs a row) and the
    # pieces, each kind concatenated
    Column("cb_keys", Text),
    Column("cb_html", LONG_TEXT),
    Column("cb_csv", LONG_TEXT),
    Column("cb_xlsx", LONG_TEXT),
    Column("updated_us", BigInteger, nullable=False),
)

report_marks = Table(
    "report_marks",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)
