"""Push register records from the outbox to 1C, OData or HTTP-service mode.

Delivery is at-least-once from the outbox, made exactly-once in the register by its key
(design.md §4.4; docs/reference/onec-http.md §1.7):

- `odata`: one `POST InformationRegister_X` per record, `concurrency` at a time over keep-alive
  connections. `400` code `15` means 1C already holds a record with this key (a previous run
  was killed after 1C wrote it, or the row was re-enqueued): the record is read back by its key
  and, if its content differs, PATCHed (only the changed fields). Other 4xx are content
  rejections → dead letters with 1C's message. 5xx, timeouts and dropped connections are
  retried by the client; if they persist the row stays queued with a back-off.
- `http-service`: `batch_size` records per `POST <url>/<service_path>`; the service answers one
  result per record (`created`, `unchanged`, `updated`, `error` + message), see docs/onec/.

Only new or changed records are sent: a record whose content hash equals the hash 1C was last
given leaves the outbox without a request. Outcomes are written to the ledger one batch at a
time; while a batch's answers are awaited the next batch is already on the wire, so the pool of
connections never drains between batches.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Connection

from etl.clock import now_us
from etl.config import OnecSettings
from etl.errors import ConfigError, OnecCredentialsRefused, OnecError, OnecUnreachable
from etl.ledger.sql import chunked
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from etl.onec import outbox
from etl.onec.client import OnecClient
from etl.onec.records import build_record, differences, record_hash, record_key

log = logging.getLogger("cdr1c.onec.push")

Derive = Callable[[Connection, list[dict[str, Any]]], None]
Progress = Callable[[int], None]


@dataclass
class PushSummary:
    """What one push did; `cdr1c sync` shows it and `status` reads the ledger counts."""

    delivered: int = 0  # new records 1C accepted (incl. ones it already held, unchanged)
    patched: int = 0  # records 1C held with other content, updated
    dead: int = 0  # rejected for their content: see onec_dead_letters
    retried: int = 0  # transport failures that persisted: still queued, tried next run
    unchanged: int = 0  # same content hash as delivered before: not sent
    already_held: int = 0  # of `delivered`: 1C answered "key exists" with the same content
    requests: int = 0
    seconds: float = 0.0
    unreachable: str | None = None  # set when the run stopped because 1C did not answer
    dry_run: bool = False
    sample: list[dict[str, Any]] = field(default_factory=list)  # dry run: what would be sent
    would_send: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if not self.dry_run:
            d.pop("sample")
            d.pop("would_send")
        return d


@dataclass
class _Item:
    source: str
    row_id: str
    record: dict[str, Any]
    hash: str
    known_hash: str | None


@dataclass
class _Outcome:
    item: _Item
    kind: str  # delivered | patched | held | dead | retry
    status: int = 0
    code: str | None = None
    message: str = ""


def _load_rows(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    by_source: dict[str, list[str]] = {}
    for s, r in keys:
        by_source.setdefault(s, []).append(r)
    for source, ids in by_source.items():
        stmt = select(cdr_rows).where(cdr_rows.c.source == source, cdr_rows.c.row_id.in_(ids))
        for row in conn.execute(stmt).mappings():
            out[(row["source"], row["row_id"])] = dict(row)
    return out


def derive_from_reconciliation(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Fill `event` and `client` from the reconciliation results (per call = linkedid)."""
    from etl.ledger.tables import call_links

    by_source: dict[str, set[str]] = {}
    for r in rows:
        by_source.setdefault(r["source"], set()).add(r["linkedid"])
    links: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for source, linkedids in by_source.items():
        ids = sorted(linkedids)
        for part in chunked(ids):
            stmt = select(call_links.c.linkedid, call_links.c.event_ref, call_links.c.client_ref).where(
                call_links.c.source == source, call_links.c.linkedid.in_(part)
            )
            for lk, ev, cl in conn.execute(stmt):
                links[(source, lk)] = (ev, cl)
    for r in rows:
        ev, cl = links.get((r["source"], r["linkedid"]), (None, None))
        r.setdefault("event", ev)
        r.setdefault("client", cl)


def _prepare(
    conn: Connection,
    cfg: OnecSettings,
    zone: ZoneInfo,
    keys: list[tuple[str, str]],
    derive: Derive | None,
) -> tuple[list[_Item], list[tuple[str, str]]]:
    """Records for the keys, minus those unchanged since delivery (returned for dropping)."""
    rows = _load_rows(conn, keys)
    present = [rows[k] for k in keys if k in rows]
    derive_from_reconciliation(conn, present)
    if derive is not None:
        derive(conn, present)
    known = outbox.delivered_hashes(conn, keys)
    items: list[_Item] = []
    skip: list[tuple[str, str]] = [k for k in keys if k not in rows]  # row gone from the ledger
    for row in present:
        k = (row["source"], row["row_id"])
        rec = build_record(row, cfg.fields, zone)
        h = record_hash(rec)
        if known.get(k) == h:
            skip.append(k)
            continue
        items.append(_Item(k[0], k[1], rec, h, known.get(k)))
    return items, skip


def _send_odata(client: OnecClient, cfg: OnecSettings, item: _Item) -> _Outcome:
    try:
        try:
            client.post_entity(cfg.register, item.record)
            return _Outcome(item, "delivered")
        except OnecError as exc:
            if not exc.key_exists:
                raise
        # 400/15: 1C holds this key already (docs/reference/onec-http.md §1.7). Compare, PATCH what differs.
        key = record_key(item.record, cfg.key)
        held = client.get_entity(cfg.register, key)
        if held is None:  # deleted between our POST and GET: create again
            client.post_entity(cfg.register, item.record)
            return _Outcome(item, "delivered")
        changes = differences(item.record, held, cfg.key)
        if not changes:
            return _Outcome(item, "held")
        client.patch_entity(cfg.register, key, changes)
        return _Outcome(item, "patched")
    except OnecCredentialsRefused:
        raise
    except OnecError as exc:
        if exc.retryable:
            return _Outcome(item, "retry", exc.status, exc.code, exc.message)
        if exc.status == 404 and exc.code in (None, "8"):
            raise ConfigError(
                f"1C has no entity set {cfg.register!r} (is the register in the OData content? "
                f"run `cdr1c check`): {exc.message}",
                "onec.register",
            ) from None
        return _Outcome(item, "dead", exc.status, exc.code, exc.message)
    except OnecUnreachable as exc:
        return _Outcome(item, "retry", 0, None, str(exc))


def _send_batch(client: OnecClient, cfg: OnecSettings, items: list[_Item]) -> list[_Outcome]:
    """HTTP-service mode: one POST for the batch, one result per record (docs/onec/)."""
    try:
        answer = client.post_service(cfg.service_path, {"records": [i.record for i in items]})
    except OnecCredentialsRefused:
        raise
    except OnecError as exc:
        if exc.retryable:
            return [_Outcome(i, "retry", exc.status, exc.code, exc.message) for i in items]
        raise OnecError(
            exc.status,
            exc.code,
            f"the HTTP service {cfg.service_path} refused the batch: {exc.message}",
        ) from None
    except OnecUnreachable as exc:
        return [_Outcome(i, "retry", 0, None, str(exc)) for i in items]
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != len(items):
        msg = "the HTTP service answered without one result per record"
        return [_Outcome(i, "retry", 0, None, msg) for i in items]
    out = []
    for item, res in zip(items, results, strict=True):
        status = str(res.get("status", "")) if isinstance(res, dict) else ""
        if status == "created":
            out.append(_Outcome(item, "delivered"))
        elif status == "unchanged":
            out.append(_Outcome(item, "held"))
        elif status == "updated":
            out.append(_Outcome(item, "patched"))
        else:
            message = str(res.get("message", "")) if isinstance(res, dict) else str(res)
            out.append(_Outcome(item, "dead", 422, None, message or "no result for this record"))
    return out


def _record_outcomes(
    conn: Connection,
    outcomes: list[_Outcome],
    summary: PushSummary,
    client: OnecClient,
    backoff_s: float,
) -> None:
    ok = [
        (o.item.source, o.item.row_id, o.item.hash)
        for o in outcomes
        if o.kind in ("delivered", "held", "patched")
    ]
    outbox.mark_delivered(conn, ok)
    dead = [
        {
            "source": o.item.source,
            "row_id": o.item.row_id,
            "record_hash": o.item.hash,
            "status": o.status,
            "code": o.code,
            "message": client.redact(o.message),
            "record": client.redact(json.dumps(o.item.record, ensure_ascii=False)),
        }
        for o in outcomes
        if o.kind == "dead"
    ]
    outbox.mark_dead(conn, dead)
    retry = [(o.item.source, o.item.row_id, client.redact(o.message)) for o in outcomes if o.kind == "retry"]
    outbox.mark_retry(conn, retry, now_us() + int(backoff_s * 1_000_000))
    for o in outcomes:
        if o.kind in ("delivered", "held"):
            summary.delivered += 1
            summary.already_held += o.kind == "held"
        elif o.kind == "patched":
            summary.patched += 1
        elif o.kind == "dead":
            summary.dead += 1
            log.warning(
                "1C rejected %s/%s: HTTP %s code %s: %s",
                o.item.source,
                o.item.row_id,
                o.status,
                o.code,
                o.message,
            )
        else:
            summary.retried += 1


def push(
    cfg: OnecSettings,
    ledger: Ledger,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    derive: Derive | None = None,
    client: OnecClient | None = None,
) -> PushSummary:
    """Send every due outbox row to 1C; returns the counts. `progress(n)` is called with the
    number of rows handled as each batch completes; `derive(conn, rows)` may add derived fields
    (e.g. `recording_path`) to the row dicts before records are built."""
    started = time.monotonic()
    zone = ZoneInfo(cfg.timezone)
    summary = PushSummary(dry_run=dry_run)
    own_client = client is None
    client = client or OnecClient(cfg)
    batch = cfg.batch_size if cfg.mode == "http-service" else max(cfg.concurrency * 16, 64)
    now = now_us()
    try:
        with ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="onec-push") as pool:
            after: tuple[str, str] | None = None
            inflight: tuple[list[Future[Any]], list[tuple[str, str]]] | None = None
            warmed = False
            while True:
                with ledger.begin() as conn:
                    keys = outbox.due_batch(conn, after, batch, now)
                    items, skip = _prepare(conn, cfg, zone, keys, derive) if keys else ([], [])
                    if skip and not dry_run:
                        outbox.drop(conn, skip)
                summary.unchanged += len(skip)
                if keys:
                    after = keys[-1]
                if dry_run:
                    summary.would_send += len(items)
                    summary.sample.extend(i.record for i in items[: max(0, 5 - len(summary.sample))])
                    if not keys:
                        break
                    continue
                futures: list[Future[Any]] = []
                if items and not warmed and cfg.mode == "odata":
                    # A cold 1C takes 30 s+ for its first request: pay that once, serially.
                    try:
                        client.warm_up(cfg.register)
                    except OnecError as exc:
                        if not exc.retryable:
                            raise
                        raise OnecUnreachable(exc.message) from None
                    warmed = True
                if cfg.mode == "odata":
                    futures = [pool.submit(_send_odata, client, cfg, i) for i in items]
                else:
                    futures = [
                        pool.submit(_send_batch, client, cfg, part) for part in chunked(items, cfg.batch_size)
                    ]
                if inflight is not None:
                    _finish(ledger, inflight[0], summary, client, cfg, progress)
                inflight = (futures, skip)
                if not keys:
                    break
            if inflight is not None:
                _finish(ledger, inflight[0], summary, client, cfg, progress)
    except OnecUnreachable as exc:
        summary.unreachable = client.redact(str(exc))
        if isinstance(exc, OnecCredentialsRefused):
            raise
    finally:
        summary.requests = client.requests
        summary.seconds = round(time.monotonic() - started, 3)
        if own_client:
            client.close()
    return summary


def _finish(
    ledger: Ledger,
    futures: list[Future[Any]],
    summary: PushSummary,
    client: OnecClient,
    cfg: OnecSettings,
    progress: Progress | None,
) -> None:
    outcomes: list[_Outcome] = []
    for f in futures:
        res = f.result()
        outcomes.extend(res if isinstance(res, list) else [res])
    with ledger.begin() as conn:
        _record_outcomes(conn, outcomes, summary, client, max(cfg.retry_backoff * 8, 1.0))
    if progress is not None and outcomes:
        progress(len(outcomes))
    if outcomes and all(o.kind == "retry" for o in outcomes):
        # Not one record got through after every retry: 1C is down; stop instead of hammering.
        raise OnecUnreachable(outcomes[0].message or "1C does not answer")
