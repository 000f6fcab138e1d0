"""Per-day counts: rows in the source, in the ledger and in the 1C register.

Days are calendar days in `[onec] timezone`, the zone the register's dates are written in
(docs/reference/onec-http.md §5), for all three counts: a source whose PBX clock is in another zone is counted
per day of the 1C zone too. The register is counted with `$count` and a date filter per day and source
(`<register>/$count?$filter=Источник eq '…' and Дата ge datetime'…' and Дата lt datetime'…'`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from etl.companion import PREFIX as CSV_PREFIX
from etl.config import Settings
from etl.days import day_bounds_us
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from etl.onec.client import OnecClient, literal

SourceCounter = Callable[[str, date, date], dict[date, int] | None]


@dataclass
class DayCounts:
    source: str
    day: date
    in_source: int | None
    in_ledger: int
    in_register: int | None
    from_csv: int = 0  # ledger rows the database lacked, loaded from Master.csv (etl/companion.py)

    @property
    def ok(self) -> bool:
        expected = None if self.in_source is None else self.in_source + self.from_csv
        values = [v for v in (expected, self.in_ledger, self.in_register) if v is not None]
        return len(set(values)) <= 1


def ledger_by_day(
    ledger: Ledger, source: str, since: date, until: date, zone: ZoneInfo, *, csv_only: bool = False
) -> dict[date, int]:
    lo, hi = day_bounds_us(since, until, zone)
    stmt = select(cdr_rows.c.calldate_us).where(
        cdr_rows.c.source == source,
        cdr_rows.c.calldate_us >= lo,
        cdr_rows.c.calldate_us < hi,
    )
    if csv_only:
        stmt = stmt.where(cdr_rows.c.row_id.startswith(CSV_PREFIX))
    with ledger.engine.connect() as conn:
        stamps = conn.execute(stmt).scalars()
        return dict(Counter(datetime.fromtimestamp(t / 1e6, zone).date() for t in stamps))


def csv_only_rows(ledger: Ledger, since: date, until: date, zone: ZoneInfo, limit: int = 50) -> list[dict]:
    """Rows the CSV had and the database lacked, for `verify` to list."""
    lo, hi = day_bounds_us(since, until, zone)
    cols = [cdr_rows.c[c] for c in ("source", "uniqueid", "calldate_us", "src", "dst", "clid", "disposition")]
    stmt = (
        select(*cols)
        .where(
            cdr_rows.c.row_id.startswith(CSV_PREFIX),
            cdr_rows.c.calldate_us >= lo,
            cdr_rows.c.calldate_us < hi,
        )
        .order_by(cdr_rows.c.calldate_us)
        .limit(limit)
    )
    with ledger.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def register_by_day(
    client: OnecClient, settings: Settings, source: str, since: date, until: date
) -> dict[date, int] | None:
    cfg = settings.onec
    assert cfg is not None
    by_row = {row: name for name, row in cfg.fields.items()}
    date_field, source_field = by_row.get("calldate"), by_row.get("source")
    if date_field is None:
        return None
    out: dict[date, int] = {}
    d = since
    while d <= until:
        nxt = d + timedelta(days=1)
        flt = (
            f"{date_field} ge {literal(datetime.combine(d, datetime.min.time()))} and "
            f"{date_field} lt {literal(datetime.combine(nxt, datetime.min.time()))}"
        )
        if source_field:
            flt = f"{source_field} eq {literal(source)} and {flt}"
        out[d] = client.count(cfg.register, flt)
        d = nxt
    return out


def source_by_day(settings: Settings, source: str, since: date, until: date) -> dict[date, int] | None:
    """The source's own count per day of the 1C zone (a PBX's clock may be in another zone)."""
    from etl.sources import open_source

    src = open_source(settings.sources[source])
    try:
        return dict(src.count_by_day(since, until, settings.onec.timezone if settings.onec else "UTC"))
    finally:
        src.close()


def verify(
    settings: Settings,
    ledger: Ledger,
    since: date,
    until: date,
    *,
    client: OnecClient | None = None,
    source_counter: SourceCounter | None = None,
) -> list[DayCounts]:
    zone = ZoneInfo(settings.onec.timezone) if settings.onec else ZoneInfo("UTC")
    counter = source_counter or (lambda name, a, b: source_by_day(settings, name, a, b))
    own = client is None and settings.onec is not None
    if own:
        assert settings.onec is not None
        client = OnecClient(settings.onec)
    out: list[DayCounts] = []
    try:
        for name in settings.sources:
            src = counter(name, since, until)
            led = ledger_by_day(ledger, name, since, until, zone)
            from_csv = ledger_by_day(ledger, name, since, until, zone, csv_only=True)
            reg = register_by_day(client, settings, name, since, until) if client else None
            d = since
            while d <= until:
                out.append(
                    DayCounts(
                        name,
                        d,
                        None if src is None else src.get(d, 0),
                        led.get(d, 0),
                        None if reg is None else reg.get(d, 0),
                        from_csv.get(d, 0),
                    )
                )
                d += timedelta(days=1)
    finally:
        if own and client:
            client.close()
    return out
