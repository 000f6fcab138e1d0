"""Where a full sync's speed ends: its CPU per row by process, against the least a sync can do.

    .venv/bin/python -m bench.bench_sync_floor [--rows 1000000] [--runs 1]

On the table `bench.bench_sync` builds (`cdr1c_bench_<N>`), for pymysql and, where installed,
mysqlclient, in one run:
- the raw `SSCursor` fetch (issue 18's baseline): wall, the client's and the server's CPU per row;
- the floor pipeline: what any sync has to do at the least, split over two processes as the
  sync is: the reader fetches, joins each row's values into one text and hashes it (blake2b,
  as the content hash does); the writer inserts five values a row (key, hash, time, linkedid and
  the row's text) into an SQLite table with its primary key only, 10,000 rows a transaction —
  no normalisation, no calls, no look-ups, no secondary index;
- the full `sync_source` into a fresh ledger (`bench.bench_sync.sync_child`).

For each it prints rows/s, the ratio to the raw fetch, the CPU per row of the reader, the
writer and the database server (read from /proc when MariaDB runs here), and the bound a run
could reach if the machine's cores never idled: raw fetch wall ÷ (all CPU per row ÷ cores).
docs/benchmarks.md §1 reads these figures against issue 18's goals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import pickle
import resource
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from bench.bench_sync import connect, ensure_table, sync_child
from etl.cdr_columns import FREEPBX_COLUMNS

CHUNK = 10_000
# positions in `SELECT *` of the table bench.bench_sync builds (FreePBX's column order)
CALLDATE, UNIQUEID, LINKEDID, SEQUENCE = (
    FREEPBX_COLUMNS.index(c) for c in ("calldate", "uniqueid", "linkedid", "sequence")
)


def chunks(db: str, driver: str) -> Iterator[list[tuple[Any, ...]]]:
    conn = connect(db, driver)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM cdr ORDER BY calldate")
            while rows := cur.fetchmany(CHUNK):
                yield list(rows)
    finally:
        conn.close()


def server_cpu() -> float | None:
    """CPU seconds the local MariaDB server has used, or None where it is not on this machine."""
    for name in ("mariadbd", "mysqld"):
        pids = subprocess.run(["pidof", name], capture_output=True, text=True).stdout.split()
        if pids:
            with open(f"/proc/{pids[0]}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def prepared(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The fewest values a ledger row can be: key, content hash, time, linkedid, the row's text."""
    out = []
    for r in rows:
        text = "\x1f".join(map(str, r))
        digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        out.append((f"{r[UNIQUEID]}:{r[SEQUENCE]}", digest, r[CALLDATE].timestamp(), r[LINKEDID], text))
    return out


def floor_reader(db: str, driver: str, out: Any) -> None:
    for rows in chunks(db, driver):
        out.put(pickle.dumps(prepared(rows), protocol=pickle.HIGHEST_PROTOCOL))
    out.put(None)


def floor_pipeline(db: str, driver: str, path: str) -> dict[str, Any]:
    ledger = sqlite3.connect(path)
    ledger.execute("PRAGMA journal_mode=WAL")
    for pragma in ("synchronous=NORMAL", "cache_size=-65536", "wal_autocheckpoint=10000"):
        ledger.execute(f"PRAGMA {pragma}")  # the ledger's own (etl/ledger/store.py)
    ledger.execute("CREATE TABLE r (row_id, content_hash, calldate, linkedid, row, PRIMARY KEY (row_id))")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue(maxsize=3)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server, started, cpu, n = server_cpu(), time.perf_counter(), time.process_time(), 0
    reader = ctx.Process(target=floor_reader, args=(db, driver, queue))
    reader.start()
    while (item := queue.get()) is not None:
        rows = pickle.loads(item)
        with ledger:
            ledger.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?)", rows)
        n += len(rows)
    reader.join()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ledger.close()
    child = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return figures(n, wall, reader=child, writer=time.process_time() - cpu, server=_since(server))


def raw(db: str, driver: str) -> dict[str, Any]:
    server, started, cpu, n = server_cpu(), time.perf_counter(), time.process_time(), 0
    for rows in chunks(db, driver):
        n += len(rows)
    return figures(n, time.perf_counter() - started, reader=time.process_time() - cpu, server=_since(server))


def full_sync(db: str, driver: str, path: str) -> dict[str, Any]:
    server = server_cpu()
    run = sync_child(db, path, driver=driver)
    return figures(run["read"], run["seconds"], reader=run["reader_cpu_s"], writer=run["writer_cpu_s"],
                   server=_since(server))  # fmt: skip


def _since(start: float | None) -> float | None:
    now = server_cpu()
    return None if start is None or now is None else now - start


def figures(n: int, wall: float, **cpu: float | None) -> dict[str, Any]:
    per_row = {k: round(v / n * 1e6, 2) for k, v in cpu.items() if v is not None}
    return {"rows": n, "rows_per_s": round(n / wall), "wall_us": round(wall / n * 1e6, 2), "cpu_us": per_row}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=1, help="repeat the whole measurement")
    args = ap.parse_args()
    db = ensure_table(args.rows)
    drivers = ["pymysql"] + (["mysqldb"] if _has_mysqlclient() else [])
    cores = os.cpu_count() or 1
    for run in range(args.runs):
        for driver in drivers:
            with tempfile.TemporaryDirectory() as tmp:
                base = raw(db, driver)
                result = {"raw": base, "floor": floor_pipeline(db, driver, f"{tmp}/floor.sqlite"),
                          "sync": full_sync(db, driver, f"{tmp}/ledger.sqlite")}  # fmt: skip
            for name in ("floor", "sync"):
                r = result[name]
                r["ratio"] = round(r["rows_per_s"] / base["rows_per_s"], 3)
                r["bound_if_cores_never_idle"] = round(
                    base["wall_us"] / (sum(r["cpu_us"].values()) / cores), 3
                )
            print(json.dumps({"run": run + 1, "driver": driver, "cores": cores, **result}), flush=True)
            for name in ("floor", "sync"):
                r = result[name]
                print(f"run {run + 1} {driver} {name}: {r['rows_per_s']} rows/s = {r['ratio']} x raw fetch "
                      f"({base['rows_per_s']} rows/s); CPU us/row {r['cpu_us']}; raw {base['cpu_us']}; "
                      f"bound {r['bound_if_cores_never_idle']}", flush=True)  # fmt: skip


def _has_mysqlclient() -> bool:
    import importlib.util

    return importlib.util.find_spec("MySQLdb") is not None


if __name__ == "__main__":
    main()
