"""Reconciliation of calls with 1C event documents (filled in below)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from etl.store import metadata

# One row per call (source, linkedid): what reconciliation found; the push reads event/client.
call_links = Table(
    "onec_call_links",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("linkedid", String(150), primary_key=True),
    Column("status", String(24), nullable=False),
    Column("event_ref", String(36)),
    Column("client_ref", String(36)),
    Column("phone_client_ref", String(36)),
    Column("detail", Text),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_onec_call_links_status", "status"),
)
