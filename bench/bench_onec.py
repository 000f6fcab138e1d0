"""1C push benchmarks (on demand: `.venv/bin/python -m bench.bench_onec`).

The stand-in runs in its own process (`python -m etl.sandbox.standin --state FILE`, its base on
disk, each write fsynced before the answer as in 1C) so this process's CPU time is the client's
alone (HTTP client, record building, ledger bookkeeping in SQLite).

1. OData push throughput with `--latency` seconds per request, as a ratio to the bound
   `concurrency / latency` (every connection busy all the time). Target ≥ 0.9.
2. HTTP-service batch mode vs OData mode, records/s at the same latency. Target ≥ 20×.
3. Client CPU time per record in each mode.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from etl.ledger.store import Ledger
from etl.onec.push import push
from tests.onec_helpers import cdr_row, insert_rows, onec_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_standin(latency: float, state: Path) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    args = ["--port", str(port), "--latency", str(latency), "--state", str(state)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "etl.sandbox.standin", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}/crm"


def run_push(mode: str, n: int, latency: float, concurrency: int, batch: int, tmp: Path) -> dict[str, Any]:
    proc, url = start_standin(latency, tmp / f"{mode}-onec.jsonl")
    try:
        ledger_url = f"sqlite:///{tmp / f'{mode}.sqlite'}"
        settings = onec_settings(
            url,
            ledger_url,
            mode=mode,
            concurrency=concurrency,
            batch_size=batch,
            timeout=30.0,
            first_timeout=30.0,
        )
        ledger = Ledger.open(ledger_url)
        insert_rows(
            ledger,
            [cdr_row(uniqueid=f"{1795650000 + i}.{i}", cnam="Смирнова Ольга") for i in range(n)],
        )
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = push(settings.onec, ledger)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        ledger.close()
        assert summary.delivered == n, summary
        return {
            "mode": mode,
            "records": n,
            "seconds": round(wall, 3),
            "records_per_s": round(n / wall, 1),
            "requests": summary.requests,
            "cpu_us_per_record": round(cpu / n * 1e6, 1),
        }
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--odata-records", type=int, default=1600)
    ap.add_argument("--service-records", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        odata = run_push("odata", args.odata_records, args.latency, args.concurrency, args.batch, tmp)
        service = run_push(
            "http-service", args.service_records, args.latency, args.concurrency, args.batch, tmp
        )
    bound = args.concurrency / args.latency
    out = {
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "odata": odata,
        "odata_bound_records_per_s": bound,
        "odata_ratio_to_bound": round(odata["records_per_s"] / bound, 3),
        "http_service": service,
        "service_vs_odata": round(service["records_per_s"] / odata["records_per_s"], 1),
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
