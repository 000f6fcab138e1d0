"""Sync throughput, no-op sync time and peak memory on a MariaDB FreePBX `cdr` table.

    .venv/bin/python -m bench.bench_sync [--rows 1000000] [--small 200000]

Builds (once) MariaDB databases `cdr1c_bench_<N>` with N generated FreePBX rows, then in the
same run measures:
- the baseline: a raw pymysql `SSCursor` streaming fetch of the same rows, same query;
- a full `cdr1c sync` of them into a fresh SQLite ledger (the default), as a ratio;
- a sync with nothing new (the look-back window re-read), absolute and against a full read;
- peak RSS of a full sync (a child process per table size) for the small and the large table;
- with mysqlclient installed (`mysql+mysqldb://`): its raw fetch and a full sync, as a ratio;
- a no-op `cdr1c sync` as a whole process (start-up and imports included, what cron pays),
  paired run by run with `cdr1c --help` (the floor of any command), median of 7 pairs.

The last lines print the two throughput ratios and the no-op time (issue 18's goals).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors

ROOT = Path(__file__).resolve().parent.parent
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
REBUILD = os.environ.get("BENCH_REBUILD") == "1"
CALLS_PER_ROW = 1 / 1.67  # the generator averages 1.67 rows per call


def ensure_table(rows: int) -> str:
    """A MariaDB database with about `rows` generated FreePBX rows; built once and reused."""
    name = f"cdr1c_bench_{rows}"
    conn = pymysql.connect(**MYSQL)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}") if REBUILD else None
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4")
        cur.execute(
            f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='{name}' AND table_name='cdr'"
        )
        exists = cur.fetchone()[0]
        count = 0
        if exists:
            cur.execute(f"SELECT COUNT(*) FROM {name}.cdr")
            count = cur.fetchone()[0]
    conn.close()
    if count >= rows * 0.95:
        return name
    from etl.sandbox.pbx import generate_history, write_sql

    url = f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    started = time.time()
    history = generate_history(int(rows * CALLS_PER_ROW) + 1, seed=7, start=datetime(2025, 11, 1), days=365)
    written = write_sql(url, history)
    print(f"built {name}: {written} rows in {time.time() - started:.1f}s", file=sys.stderr)
    return name


def connect(db: str, driver: str = "pymysql") -> Any:
    """A streaming (`SSCursor`) connection of either MySQL driver to the bench database."""
    if driver == "mysqldb":
        import MySQLdb
        import MySQLdb.cursors

        return MySQLdb.connect(**MYSQL, database=db, charset="utf8mb4", cursorclass=MySQLdb.cursors.SSCursor)
    return pymysql.connect(**MYSQL, database=db, cursorclass=pymysql.cursors.SSCursor, charset="utf8mb4")


def raw_fetch(db: str, driver: str = "pymysql") -> tuple[int, float]:
    """Baseline: the same columns and order as the sync's query, streamed with SSCursor."""
    conn = connect(db, driver)
    started = time.perf_counter()
    n = 0
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM cdr ORDER BY calldate")
        while True:
            chunk = cur.fetchmany(10_000)
            if not chunk:
                break
            n += len(chunk)
    conn.close()
    return n, time.perf_counter() - started


def sync_child(db: str, ledger: str, lookback: str = "6h", driver: str = "pymysql") -> dict[str, Any]:
    """Run one `sync_source` in a child process; return its figures and peak RSS."""
    code = f"""
import json, resource, time
from etl.config import parse_settings
from etl.ledger.store import Ledger
from etl.sync import sync_source
src = {{"url": "mysql+{driver}://root@127.0.0.1:3306/{db}", "timezone": "Europe/Moscow",
       "lookback": "{lookback}"}}
s = parse_settings({{"source": src, "state": {{"url": "sqlite:///{ledger}"}}}})
led = Ledger.open(s.state.url)
t = time.perf_counter()
r = sync_source(s.sources["default"], led)
elapsed = time.perf_counter() - t
me, child = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"read": r.read, "new": r.new, "calls": r.calls, "quarantined": r.quarantined,
                  "seconds": elapsed, "peak_rss_mb": me.ru_maxrss / 1024,
                  "reader_peak_rss_mb": child.ru_maxrss / 1024,  # the reader process
                  "writer_cpu_s": me.ru_utime + me.ru_stime,
                  "reader_cpu_s": child.ru_utime + child.ru_stime}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def noop_process(db: str, ledger: str, driver: str = "pymysql", pairs: int = 7) -> dict[str, Any]:
    """Whole-process seconds of a `cdr1c sync` that finds nothing new and of `cdr1c --help`,
    run in turn (medians): the config of a cron job, on a copy of `ledger` (synced with `db`)."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(ledger, f"{tmp}/ledger.sqlite")
        Path(tmp, "cdr1c.toml").write_text(
            f'[source]\nurl = "mysql+{driver}://root@127.0.0.1:3306/{db}"\ntimezone = "Europe/Moscow"\n\n'
            '[state]\nurl = "sqlite:///ledger.sqlite"\n\n[general]\nlock_dir = "locks"\n',
            encoding="utf-8",
        )
        cli = [sys.executable, "-m", "jobs"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}

        def timed(*args: str) -> tuple[float, float]:
            """Wall and CPU (user + system) seconds of one process: on a shared machine the
            wall time is mostly waiting for a core, the CPU time is what the run costs."""
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run([*cli, *args], cwd=tmp, env=env, check=True, capture_output=True)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

        timed("sync")  # finds nothing new: keeps the look-back window's digest
        sync_s, help_s, sync_cpu, help_cpu = [], [], [], []
        for _ in range(pairs):
            wall, cpu = timed("sync")
            sync_s.append(wall)
            sync_cpu.append(cpu)
            wall, cpu = timed("--help")
            help_s.append(wall)
            help_cpu.append(cpu)
        with closing(sqlite3.connect(f"{tmp}/ledger.sqlite")) as conn:
            (text,) = conn.execute("SELECT summary FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        summary = json.loads(text)
    return {
        "noop_process_s": round(sorted(sync_s)[pairs // 2], 3),
        "help_process_s": round(sorted(help_s)[pairs // 2], 3),
        "noop_process_cpu_s": round(sorted(sync_cpu)[pairs // 2], 3),
        "help_process_cpu_s": round(sorted(help_cpu)[pairs // 2], 3),
        "window_unchanged": bool(summary.get("window_unchanged")),
        "rows_in_window": summary["sources"]["default"]["read"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=200_000)
    args = ap.parse_args()
    big, small = ensure_table(args.rows), ensure_table(args.small)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        n, base_s = raw_fetch(big)
        results["baseline_rows"] = n
        results["baseline_rows_per_s"] = round(n / base_s)
        full = sync_child(big, f"{tmp}/big.sqlite")
        results["sync"] = full
        results["sync_rows_per_s"] = round(full["read"] / full["seconds"])
        results["ratio_to_raw_fetch"] = round(results["sync_rows_per_s"] / results["baseline_rows_per_s"], 3)
        noop = sync_child(big, f"{tmp}/big.sqlite")
        results["noop_sync"] = noop
        results["noop_seconds"] = round(noop["seconds"], 3)
        results["full_read_over_noop"] = round(base_s / noop["seconds"], 1)
        small_run = sync_child(small, f"{tmp}/small.sqlite")
        results["peak_rss_mb"] = {
            f"{small_run['read']} rows": round(small_run["peak_rss_mb"], 1),
            f"{full['read']} rows": round(full["peak_rss_mb"], 1),
        }
        results["reader_peak_rss_mb"] = {
            f"{small_run['read']} rows": round(small_run["reader_peak_rss_mb"], 1),
            f"{full['read']} rows": round(full["reader_peak_rss_mb"], 1),
        }
        results["rss_growth"] = round(full["peak_rss_mb"] / small_run["peak_rss_mb"] - 1, 3)
        if importlib.util.find_spec("MySQLdb") is not None:  # the C driver, where installed
            n_c, base_c = raw_fetch(big, "mysqldb")
            c_full = sync_child(big, f"{tmp}/c.sqlite", driver="mysqldb")
            results["mysqlclient"] = {
                "raw_rows_per_s": round(n_c / base_c),
                "sync_rows_per_s": round(c_full["read"] / c_full["seconds"]),
                "ratio_to_its_raw_fetch": round(c_full["read"] / c_full["seconds"] / (n_c / base_c), 3),
                "ratio_to_pymysql_raw_fetch": round(c_full["read"] / c_full["seconds"] / (n / base_s), 3),
            }
        results["noop_process"] = noop_process(small, f"{tmp}/small.sqlite")
    results["self_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(results, indent=2))
    r, c, noop = results, results.get("mysqlclient", {}), results["noop_process"]
    print(f"pymysql: sync {r['sync_rows_per_s']} rows/s = {r['ratio_to_raw_fetch']} x its raw fetch "
          f"({r['baseline_rows_per_s']} rows/s; goal >= 0.75)")  # fmt: skip
    if c:
        print(f"mysqlclient: sync {c['sync_rows_per_s']} rows/s = {c['ratio_to_its_raw_fetch']} x its "
              f"raw fetch ({c['raw_rows_per_s']} rows/s; goal >= 0.5)")  # fmt: skip
    print(f"no-op cdr1c sync, whole process: {noop['noop_process_s']} s, CPU {noop['noop_process_cpu_s']} s "
          f"(cdr1c --help: {noop['help_process_s']} s, CPU {noop['help_process_cpu_s']} s; goal <= 0.3 s; "
          f"fast path: {noop['window_unchanged']})")  # fmt: skip


if __name__ == "__main__":
    main()
