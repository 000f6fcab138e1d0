"""Retention: what `cdr1c prune` may delete so the ledger stays small after years of calls.

Only bookkeeping that no later run can need goes:

- **Run logs** (`runs`) started before `keep_runs` ago, except the newest run of each job
  (`cdr1c status` and the metrics read "last run" and "last success" from it).
- **Delivered-record hashes** (`onec_delivered`) of rows delivered before `keep_delivered` ago
  *whose call is older than that too* and which are not queued again. The hash is what lets the
  push skip a re-queued row whose record did not change. A re-run cannot re-queue such a row as
  new: it is in `cdr_rows` (never pruned), and the sync re-reads only `lookback` (which the
  settings require to be shorter than `keep_delivered`). If a reconcile over an old range does
  re-queue one, the push sends it without a known hash; 1C answers "key exists", the record is
  read back by its key and PATCHed only if it differs (or the HTTP service answers `unchanged`):
  still correct, one extra request per record.

Never pruned: the CDR rows and calls (the ledger *is* the copy), the outbox (pending records
are undelivered by definition: a delivered record leaves it in the same transaction), dead
letters and quarantine (a human must read them), cursors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select

from etl.ledger.sql import chunked
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows, delivered, outbox, runs

BATCH = 5000  # keys per delete: short transactions, so a sync never waits long on the ledger


@dataclass
class PruneResult:
    runs: int = 0
    delivered: int = 0
    runs_before: str = ""
    delivered_before: str = ""
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prune(
    ledger: Ledger,
    *,
    keep_runs: timedelta,
    keep_delivered: timedelta,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PruneResult:
    """Delete (or with `dry_run`, count) what retention allows; see the module docstring."""
    now = now or datetime.now(UTC)
    runs_cutoff = now - keep_runs
    delivered_cutoff = now - keep_delivered
    result = PruneResult(
        runs_before=runs_cutoff.isoformat(timespec="seconds"),
        delivered_before=delivered_cutoff.isoformat(timespec="seconds"),
        dry_run=dry_run,
    )
    result.runs = _prune_runs(ledger, runs_cutoff, dry_run)
    result.delivered = _prune_delivered(ledger, int(delivered_cutoff.timestamp() * 1_000_000), dry_run)
    return result


def _prune_runs(ledger: Ledger, cutoff: datetime, dry_run: bool) -> int:
    with ledger.engine.connect() as conn:
        keep = {int(i) for (i,) in conn.execute(select(func.max(runs.c.id)).group_by(runs.c.job))}
        ids = [int(i) for (i,) in conn.execute(select(runs.c.id).where(runs.c.started < cutoff))]
    ids = [i for i in ids if i not in keep]
    if not dry_run:
        for part in chunked(ids, BATCH):
            with ledger.begin() as conn:
                conn.execute(delete(runs).where(runs.c.id.in_(part)))
    return len(ids)


def _prune_delivered(ledger: Ledger, cutoff_us: int, dry_run: bool) -> int:
    queued = exists().where(
        and_(outbox.c.source == delivered.c.source, outbox.c.row_id == delivered.c.row_id)
    )
    recent_call = exists().where(
        and_(
            cdr_rows.c.source == delivered.c.source,
            cdr_rows.c.row_id == delivered.c.row_id,
            cdr_rows.c.calldate_us >= cutoff_us,
        )
    )
    prunable = and_(delivered.c.delivered_us < cutoff_us, ~queued, ~recent_call)
    if dry_run:
        with ledger.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(delivered).where(prunable)).scalar_one())
    removed = 0
    while True:
        with ledger.begin() as conn:
            keys = [
                (s, r)
                for s, r in conn.execute(
                    select(delivered.c.source, delivered.c.row_id).where(prunable).limit(BATCH)
                )
            ]
            if not keys:
                return removed
            by_source: dict[str, list[str]] = {}
            for s, r in keys:
                by_source.setdefault(s, []).append(r)
            conn.execute(
                delete(delivered).where(
                    or_(
                        *[
                            and_(delivered.c.source == s, delivered.c.row_id.in_(ids))
                            for s, ids in by_source.items()
                        ]
                    )
                )
            )
        removed += len(keys)
