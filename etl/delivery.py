"""Which path delivered recently, and how long after the end of a call (`cdr1c status`, metrics).

Two paths bring a call to 1C: the timer's `cdr1c sync` (systemd timer, cron, `cdr1c schedule`:
trigger `timer`) and the event-driven sync of `cdr1c live` (`ami-cdr`, `ami-hangup`,
jobs/live_sync.py). Both are sync runs; each records its trigger and its push counts in `runs`.
Over the last hour (`WINDOW`):

- per path: the sync runs, the records they delivered (new and patched) and when the last one
  that delivered something finished;
- the delay from the end of a call to its delivery: for the CDR rows whose call ended in the
  window and that 1C holds, `delivered_us − end_us` (the end as the CDR has it, to the second;
  a record delivered again later, e.g. patched when reconcile links its 1C event, counts with
  its latest delivery), p50 and p95; and how many rows of that window are still waiting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, delivered, outbox, runs

WINDOW = timedelta(hours=1)


def quantile(values: list[float], q: float) -> float | None:
    """The nearest-rank quantile of `values` (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise_paths(rows: Iterable[tuple[Any, str | dict[str, Any] | None]]) -> dict[str, dict[str, Any]]:
    """Per trigger, from (finished, summary) of the window's finished sync runs (pure)."""
    paths: dict[str, dict[str, Any]] = {}
    for finished, raw in rows:
        summary = json.loads(raw) if isinstance(raw, str) else (raw or {})
        trigger = str(summary.get("trigger") or "timer")
        push = summary.get("push") or {}
        sent = int(push.get("delivered", 0)) + int(push.get("patched", 0))
        p = paths.setdefault(trigger, {"runs": 0, "delivered": 0, "last_delivery": None})
        p["runs"] += 1
        p["delivered"] += sent
        when = _iso(finished)
        if sent and when is not None and (p["last_delivery"] is None or when > p["last_delivery"]):
            p["last_delivery"] = when
    return paths


def delivery_state(ledger: Ledger, now: datetime | None = None) -> dict[str, Any]:
    """`{"window_seconds", "paths": {trigger: …}, "delay_seconds": {"p50", "p95", "delivered",
    "waiting"}}` over the last hour."""
    now = now or datetime.now(UTC)
    since = now - WINDOW
    since_us = int(since.timestamp() * 1_000_000)
    with ledger.engine.connect() as conn:
        done = conn.execute(
            select(runs.c.finished, runs.c.summary).where(
                runs.c.job == "sync", runs.c.finished.is_not(None), runs.c.finished >= since
            )
        ).all()
        joined = and_(delivered.c.source == cdr_rows.c.source, delivered.c.row_id == cdr_rows.c.row_id)
        pairs = conn.execute(
            select(cdr_rows.c.end_us, delivered.c.delivered_us)
            .select_from(cdr_rows.join(delivered, joined))
            .where(cdr_rows.c.end_us >= since_us)
        ).all()
        queued = and_(outbox.c.source == cdr_rows.c.source, outbox.c.row_id == cdr_rows.c.row_id)
        waiting = conn.execute(
            select(func.count())
            .select_from(cdr_rows.join(outbox, queued))
            .where(cdr_rows.c.end_us >= since_us)
        ).scalar_one()
    delays = [max(0.0, (d - e) / 1_000_000) for e, d in pairs if e is not None and d is not None]
    p50, p95 = quantile(delays, 0.5), quantile(delays, 0.95)
    return {
        "window_seconds": int(WINDOW.total_seconds()),
        "paths": summarise_paths(done),
        "delay_seconds": {
            "p50": None if p50 is None else round(p50, 3),
            "p95": None if p95 is None else round(p95, 3),
            "delivered": len(delays),
            "waiting": int(waiting),
        },
    }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
