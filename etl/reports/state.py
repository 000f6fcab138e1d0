"""Ledger tables of the reports stage: what each page was last rendered from.

- `report_pages`: per output folder (`target`, sha1 of its absolute path) and page, the hash
  of the data the page was rendered from. A page whose data hash is unchanged (and whose file
  still exists) is not rendered again.
- `report_parties`: the summary row of every client (or unknown number) as last computed, so
  an incremental run rebuilds the index from 20,000 small rows instead of a million calls.
- `report_marks`: watermarks (newest `calls.updated_us`, …) and the settings fingerprint
  per target; a changed fingerprint means a full run.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table, Text

from etl.store import metadata

report_pages = Table(
    "report_pages",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("page", String(200), primary_key=True),
    Column("data_hash", String(32), nullable=False),
    Column("rendered_us", BigInteger, nullable=False),
)

report_parties = Table(
    "report_parties",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("party_id", String(64), primary_key=True),  # 1C Ref_Key, or "n" + E.164 digits
    Column("summary", Text, nullable=False),  # JSON: name, phones, manager, figures, callbacks
    Column("updated_us", BigInteger, nullable=False),
)

report_marks = Table(
    "report_marks",
    metadata,
    Column("target", String(40), primary_key=True),
    Column("name", String(40), primary_key=True),
    Column("value", Text, nullable=False),
)
