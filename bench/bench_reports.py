"""Benchmark of `cdr1c report`: a full render of 1,000,000 calls for 20,000 clients, then the
incremental render after 100 new calls.

    .venv/bin/python -m bench.bench_reports                       # 1,000,000 calls, 20,000 clients
    .venv/bin/python -m bench.bench_reports --calls 100000 --clients 2000   # a quick look

The ledger (SQLite, in a temporary folder) is made synthetically with bulk inserts, not through
the CDR pipeline: `calls` rows over 90 days, each client with one or two numbers, a manager,
1,000 numbers that no client owns, and 1C employees for the extensions. Targets: the full
render at ≥ 20,000 calls/s and the incremental one ≥ 50× faster than the full one. Per-client
XLSX files are off (`client_xlsx = false`; 5 ms a workbook would add 100 s for 20,000 clients):
each client keeps its CSV, the index tables keep both.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from etl.clock import now_us
from etl.config import parse_settings
from etl.ledger.sql import bulk_write
from etl.ledger.store import Ledger
from etl.ledger.tables import calls, client_phones, clients, employees
from etl.reports import build_reports

CALL_COLS = [c.name for c in calls.columns]
START_US = (now_us()) - 100 * 86_400_000_000  # 100 days ago: every call is in the past
DAY_US = 86_400_000_000


def make_ledger(url: str, n_calls: int, n_clients: int, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    ledger = Ledger.open(url)
    staff = [(str(uuid.UUID(int=rnd.getrandbits(128))), f"Менеджер {i}", str(101 + i)) for i in range(20)]
    numbers: list[str] = []
    with ledger.begin() as conn:
        bulk_write(conn, employees, ["ref_key", "name", "extension"], staff)
        crows, prows = [], []
        for i in range(n_clients):
            ref = str(uuid.UUID(int=rnd.getrandbits(128)))
            crows.append((ref, f"ООО «Клиент {i}»", staff[i % 20][0] if i % 5 else None, 0))
            for _ in range(1 + (i % 3 == 0)):
                num = f"+7916{len(numbers):07d}"
                numbers.append(num)
                prows.append((ref, num, num))
        bulk_write(conn, clients, ["ref_key", "name", "manager_ref", "read_us"], crows)
        bulk_write(conn, client_phones, ["client_ref", "phone", "presentation"], prows)
    numbers += [f"+7495{i:07d}" for i in range(1000)]  # unknown numbers
    rows = []
    with ledger.begin() as conn:
        for k in range(n_calls):
            t = START_US + rnd.randrange(90 * DAY_US)
            direction = "inbound" if rnd.random() < 0.65 else "outbound"
            answered = rnd.random() < 0.8
            wait, talk = rnd.randrange(1, 40), rnd.randrange(5, 600) if answered else 0
            rows.append(
                (
                    "default",
                    f"{t // 1_000_000}.{k}",
                    t,
                    t + wait * 1_000_000 if answered else None,
                    t + (wait + talk) * 1_000_000,
                    wait,
                    talk,
                    direction,
                    rnd.choice(numbers),
                    str(101 + rnd.randrange(20)),
                    "answered" if answered else "missed",
                    "",
                    1,
                    1,
                    t,
                )
            )
            if len(rows) == 50_000:
                bulk_write(conn, calls, CALL_COLS, rows)
                rows = []
        bulk_write(conn, calls, CALL_COLS, rows)
    ledger.close()
    return numbers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=20_000)
    ap.add_argument("--new", type=int, default=100)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cdr1c-bench-reports-"))
    try:
        url = f"sqlite:///{tmp / 'ledger.sqlite'}"
        t0 = time.perf_counter()
        numbers = make_ledger(url, args.calls, args.clients)
        setup = time.perf_counter() - t0
        settings = parse_settings(
            {
                "source": {"url": "sqlite:///unused.sqlite", "timezone": "Europe/Moscow"},
                "state": {"url": url},
                "reports": {"dir": str(tmp / "reports"), "timezone": "Europe/Moscow", "client_xlsx": False},
            },
            tmp / "cdr1c.toml",
        )
        ledger = Ledger.open(url)
        t0 = time.perf_counter()
        full = build_reports(
            settings.report_settings(), ledger, onec=settings.onec, recordings=settings.recordings
        )
        t_full = time.perf_counter() - t0
        rnd = random.Random(2)
        now = now_us()
        with ledger.begin() as conn:
            bulk_write(
                conn,
                calls,
                CALL_COLS,
                [
                    (
                        "default",
                        f"new.{k}",
                        START_US + 95 * DAY_US + k,
                        None,
                        START_US + 95 * DAY_US + k + 1,
                        3,
                        0,
                        "inbound",
                        rnd.choice(numbers),
                        "101",
                        "missed",
                        "",
                        1,
                        1,
                        now,
                    )
                    for k in range(args.new)
                ],
            )
        t0 = time.perf_counter()
        inc = build_reports(
            settings.report_settings(), ledger, onec=settings.onec, recordings=settings.recordings
        )
        t_inc = time.perf_counter() - t0
        ledger.close()
        result = {
            "calls": args.calls,
            "clients": args.clients,
            "setup_s": round(setup, 1),
            "full_s": round(t_full, 2),
            "full_calls_per_s": round(args.calls / t_full),
            "full_pages": full.pages_rendered,
            "incremental_s": round(t_inc, 3),
            "incremental_pages": inc.pages_rendered,
            "incremental_mode": inc.mode,
            "speedup": round(t_full / t_inc, 1),
            "targets_met": args.calls / t_full >= 20_000 and t_full / t_inc >= 50,
        }
        print(json.dumps(result, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
