"""Reconciliation: calls (ledger) × 1C event documents (cache), by linkedid, then any leg's uniqueid.

Per call (source, linkedid) the result is one of:

- `matched`: an event carries the call's linkedid (or the uniqueid of one of its legs);
- `mismatch`: matched, but the event's client is not a client the call's number belongs to
  (by 1C contact information, phones normalised to E.164);
- `no_event`: an answered inbound call nobody recorded in 1C;
- `unlinked`: any other call without an event (missed, outbound, internal): not a problem.

Events whose call id is in no CDR row of the ledger are `event without call`. Results go to the
ledger (`onec_call_links`, `onec_orphan_events`); calls whose event or client changed are
re-enqueued so their register records carry the references (the push sends them only if the
record's content hash changed); a CSV and a JSON summary are written.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import OnecSettings
from etl.days import day_bounds_us
from etl.ledger.sql import chunked, upsert
from etl.ledger.store import Ledger
from etl.ledger.tables import call_links, calls, cdr_rows, client_phones, clients, events, orphan_events
from etl.onec import outbox
from etl.onec.client import OnecClient
from etl.onec.readers import read_clients, read_employees, read_events

PROBLEMS = ("mismatch", "no_event", "event_without_call")


@dataclass
class ReconcileSummary:
    since: str
    until: str
    counts: dict[str, int] = field(default_factory=dict)  # status → calls; event_without_call
    requeued_rows: int = 0
    csv_path: str = ""
    json_path: str = ""

    @property
    def problems(self) -> int:
        return sum(self.counts.get(k, 0) for k in PROBLEMS)


def match(
    call_rows: list[dict[str, Any]],
    legs: dict[tuple[str, str], set[str]],
    events_by_id: dict[str, list[dict[str, Any]]],
    phone_owners: dict[str, set[str]],
) -> list[dict[str, Any]]:
    """Pure matching of calls with events: one result dict per call."""
    out = []
    for c in call_rows:
        key = (c["source"], c["linkedid"])
        found = events_by_id.get(c["linkedid"], [])
        if not found:
            for uid in sorted(legs.get(key, ())):
                found = events_by_id.get(uid, [])
                if found:
                    break
        owners = phone_owners.get(c.get("external_number") or "", set())
        phone_client = next(iter(sorted(owners))) if len(owners) == 1 else None
        res = {
            "source": c["source"],
            "linkedid": c["linkedid"],
            "event_ref": None,
            "client_ref": phone_client,
            "phone_client_ref": phone_client,
            "detail": "",
        }
        if found:
            ev = sorted(found, key=lambda e: (e["date_us"], e["ref_key"]))[0]
            res["event_ref"] = ev["ref_key"]
            ev_client = ev.get("client_ref")
            if ev_client and owners and ev_client not in owners:
                res["status"] = "mismatch"
                res["detail"] = (
                    f"event client {ev_client}, number {c.get('external_number')} "
                    f"belongs to {', '.join(sorted(owners))}"
                )
            else:
                res["status"] = "matched"
            res["client_ref"] = ev_client or phone_client
        elif c.get("direction") == "inbound" and c.get("outcome") == "answered":
            res["status"] = "no_event"
        else:
            res["status"] = "unlinked"
        out.append(res)
    return out


def reconcile(
    cfg: OnecSettings,
    ledger: Ledger,
    *,
    out_dir: Path,
    since: date | None = None,
    until: date | None = None,
    client: OnecClient | None = None,
    read: bool = True,
) -> ReconcileSummary:
    """Read 1C for the window, match, store, re-enqueue changed calls, write CSV + JSON into
    `out_dir` (the jobs pass `Settings.report_settings().dir`)."""
    zone = ZoneInfo(cfg.timezone)
    until = until or datetime.now(zone).date()
    since = since or (until - timedelta(days=7))
    lo_us, hi_us = day_bounds_us(since, until, zone)
    if read:
        own = client is None
        client = client or OnecClient(cfg)
        try:
            with ledger.begin() as conn:  # events one day either side: calls near midnight
                read_events(
                    conn,
                    client,
                    cfg,
                    datetime.combine(since - timedelta(days=1), time()),
                    datetime.combine(until + timedelta(days=2), time()),
                )
                read_clients(conn, client, cfg)
                read_employees(conn, client, cfg)
        finally:
            if own:
                client.close()
    summary = ReconcileSummary(since.isoformat(), until.isoformat())
    margin = 86_400_000_000
    with ledger.begin() as conn:
        call_rows = [
            dict(r)
            for r in conn.execute(
                select(calls).where(calls.c.start_us >= lo_us, calls.c.start_us < hi_us)
            ).mappings()
        ]
        legs: dict[tuple[str, str], set[str]] = {}
        for s, lk, uid in conn.execute(
            select(cdr_rows.c.source, cdr_rows.c.linkedid, cdr_rows.c.uniqueid).where(
                cdr_rows.c.calldate_us >= lo_us - margin, cdr_rows.c.calldate_us < hi_us + margin
            )
        ):
            legs.setdefault((s, lk), set()).add(uid)
        evs = [
            dict(r)
            for r in conn.execute(
                select(events).where(events.c.date_us >= lo_us - margin, events.c.date_us < hi_us + margin)
            ).mappings()
        ]
        by_id: dict[str, list[dict[str, Any]]] = {}
        for e in evs:
            if e["call_id"]:
                by_id.setdefault(e["call_id"], []).append(e)
        owners: dict[str, set[str]] = {}
        for cref, phone in conn.execute(select(client_phones.c.client_ref, client_phones.c.phone)):
            owners.setdefault(phone, set()).add(cref)
        results = match(call_rows, legs, by_id, owners)
        summary.requeued_rows = _store(conn, results)
        orphans = _orphans(conn, [e for e in evs if e["call_id"] and lo_us <= e["date_us"] < hi_us])
        summary.counts = dict(Counter(r["status"] for r in results))
        summary.counts["event_without_call"] = len(orphans)
        names = dict(conn.execute(select(clients.c.ref_key, clients.c.name)).all())
    _write(out_dir, summary, results, orphans, names, zone)
    return summary


def _store(conn: Connection, results: list[dict[str, Any]]) -> int:
    """Upsert the results; re-enqueue every row of a call whose event or client changed."""
    now = now_us()
    old: dict[tuple[str, str], tuple[Any, Any]] = {}
    keys = [(r["source"], r["linkedid"]) for r in results]
    for chunk in chunked(keys):
        conds = [(call_links.c.source == s) & (call_links.c.linkedid == lk) for s, lk in chunk]
        for s, lk, ev, cl in conn.execute(
            select(
                call_links.c.source,
                call_links.c.linkedid,
                call_links.c.event_ref,
                call_links.c.client_ref,
            ).where(or_(*conds))
        ):
            old[(s, lk)] = (ev, cl)
    upsert(
        conn,
        call_links,
        [{**r, "updated_us": now} for r in results],
        update=("status", "event_ref", "client_ref", "phone_client_ref", "detail", "updated_us"),
    )
    changed: dict[str, list[str]] = {}
    for r in results:
        if old.get((r["source"], r["linkedid"]), (None, None)) != (r["event_ref"], r["client_ref"]):
            changed.setdefault(r["source"], []).append(r["linkedid"])
    n = 0
    for source, linkedids in changed.items():
        for part in chunked(linkedids):
            ids = [
                row[0]
                for row in conn.execute(
                    select(cdr_rows.c.row_id).where(
                        cdr_rows.c.source == source, cdr_rows.c.linkedid.in_(part)
                    )
                )
            ]
            outbox.enqueue(conn, source, ids)
            n += len(ids)
    return n


def _orphans(conn: Connection, evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events whose call id is neither a linkedid nor a uniqueid of any row in the ledger."""
    ids = sorted({e["call_id"] for e in evs})
    known: set[str] = set()
    for chunk in chunked(ids):
        for lk, uid in conn.execute(
            select(cdr_rows.c.linkedid, cdr_rows.c.uniqueid).where(
                or_(cdr_rows.c.linkedid.in_(chunk), cdr_rows.c.uniqueid.in_(chunk))
            )
        ):
            known.update((lk, uid))
    orphans = [e for e in evs if e["call_id"] not in known]
    for part in chunked([e["ref_key"] for e in evs]):
        conn.execute(delete(orphan_events).where(orphan_events.c.ref_key.in_(part)))
    now = now_us()
    upsert(
        conn,
        orphan_events,
        [
            {
                "ref_key": e["ref_key"],
                "call_id": e["call_id"],
                "date_us": e["date_us"],
                "updated_us": now,
            }
            for e in orphans
        ],
        update=("call_id", "date_us", "updated_us"),
    )
    return orphans


def _write(
    folder: Path,
    summary: ReconcileSummary,
    results: list[dict[str, Any]],
    orphans: list[dict[str, Any]],
    names: dict[str, str],
    zone: ZoneInfo,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / "reconciliation.csv", folder / "reconciliation.json"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["status", "source", "linkedid", "event_ref", "client_ref", "client", "detail"])
        for r in sorted(results, key=lambda r: (r["status"], r["source"], r["linkedid"])):
            if r["status"] == "unlinked":
                continue
            w.writerow(
                [
                    r["status"],
                    r["source"],
                    r["linkedid"],
                    r["event_ref"] or "",
                    r["client_ref"] or "",
                    names.get(r["client_ref"] or "", ""),
                    r["detail"],
                ]
            )
        for e in orphans:
            when = datetime.fromtimestamp(e["date_us"] / 1e6, zone).strftime("%Y-%m-%d %H:%M:%S")
            w.writerow(
                [
                    "event_without_call",
                    "",
                    e["call_id"],
                    e["ref_key"],
                    e.get("client_ref") or "",
                    names.get(e.get("client_ref") or "", ""),
                    f"event dated {when}",
                ]
            )
    summary.csv_path, summary.json_path = str(csv_path), str(json_path)
    json_path.write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=2), encoding="utf-8")
