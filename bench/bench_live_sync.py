"""Event-driven sync benchmark (on demand: `.venv/bin/python -m bench.bench_live_sync`).

Calls finish at `--rate` per second for `--duration` seconds (default 2/s for 5 minutes). Each
call is one of the real Asterisk 22 capture's 31 calls with its own ids, ending "now": its rows
are INSERTed into the PBX's `cdr` table one transaction per row (as cdr_adaptive_odbc writes
them), then its real `Cdr` events are sent by the AMI double. `cdr1c live` runs as a child
process (`sync_on = "cdr"`, SQLite ledger), and the 1C stand-in answers every request after
`--latency` seconds (default 50 ms). Measured per record: the time from its `Cdr` event leaving
the double to its creation in the stand-in's register; p50/p95/p99/max. Targets: p95 ≤ 5 s,
p99 ≤ 10 s. Also: records missing at the end, records created twice (must be 0), sync runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from etl.sandbox.ami import AmiDouble, until
from etl.sandbox.standin import Faults, StandIn
from etl.sandbox.standin.model import EntitySet
from tests.conftest import ROOT
from tests.live_sync_support import Pbx, capture_calls, copy_call, event_bytes, sync_runs


class TimedStandIn(StandIn):
    """The stand-in, remembering when each register record was created (time.time())."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.created_at: dict[tuple[Any, ...], float] = {}

    def create(self, es: EntitySet, body: Mapping[str, Any]) -> dict[str, Any]:
        row = super().create(es, body)
        if es.name == self.register:
            self.created_at.setdefault(tuple(row[f] for f in es.key), time.time())
        return row


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cdr_database(kind: str, tmp: Path) -> tuple[str, Any]:
    """The PBX's CDR database: an SQLite file, or a fresh MariaDB database (dropped after)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'asteriskcdrdb.sqlite'}", lambda: None
    name = f"cdr1c_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine("mysql+pymysql://root@127.0.0.1:3306/", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    return f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4", drop


def write_config(tmp: Path, cdr_url: str, stand: StandIn, ami_port: int) -> Path:
    path = tmp / "cdr1c.toml"
    path.write_text(
        f'[source]\nurl = "{cdr_url}"\ntimezone = "UTC"\nlookback = "15m"\n'
        f'[state]\nurl = "sqlite:///{tmp / "ledger.sqlite"}"\n'
        f'[onec]\nurl = "{stand.url}"\nuser = "{stand.user}"\npassword = "{stand.password}"\n'
        'timezone = "UTC"\n'
        f'[ami]\nhost = "127.0.0.1"\nport = {ami_port}\nuser = "cdr1c"\nsecret = "s3cret-ami-secret"\n'
        'sync_on = "cdr"\n'
        f'[api]\nlisten = "127.0.0.1:{free_port()}"\ntoken = "bench-token-0123456789abcdef"\n'
        f'[general]\nlock_dir = "{tmp / "run"}"\n',
        encoding="utf-8",
    )
    return path


async def bench(duration: float, rate: float, latency: float, cdr: str, tmp: Path) -> dict[str, Any]:
    double = AmiDouble()
    await double.start()
    stand = TimedStandIn(faults=Faults(latency=latency))
    stand.start()
    cdr_url, drop = cdr_database(cdr, tmp)
    pbx = Pbx(cdr_url)
    config = write_config(tmp, cdr_url, stand, double.port)
    log = (tmp / "live.log").open("wb")
    live = subprocess.Popen(
        [sys.executable, "-m", "jobs", "--config", str(config), "live"],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    sent_at: dict[tuple[str, str], float] = {}
    try:
        await until(lambda: bool(double.logged_in()), 60)
        n = max(1, int(duration * rate))
        templates = capture_calls()
        t0 = time.monotonic()
        for i in range(n):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the load's pace, not a wait for a result
            now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
            call_rows = copy_call(templates[i % len(templates)], str(i), now)  # ends now
            pbx.write(call_rows)
            stamp = time.time()
            await double.emit_raw(event_bytes(double, call_rows))
            for key in call_rows.register_keys():
                sent_at[key] = stamp
        want = set(sent_at)
        await until(lambda: want <= set(stand.created_at), 120)
        elapsed = time.monotonic() - t0
    finally:
        live.send_signal(signal.SIGTERM)
        try:
            live.wait(60)
        except subprocess.TimeoutExpired:
            live.kill()
        log.close()
        pbx.close()
        stand.stop()
        await double.stop()
    delays = [stand.created_at[k] - sent_at[k] for k in sent_at if k in stand.created_at]
    keys = stand.stats.created_keys
    runs = sync_runs(f"sqlite:///{tmp / 'ledger.sqlite'}")
    drop()
    return {
        "calls": n,
        "records": len(sent_at),
        "rate_per_s": rate,
        "seconds": round(elapsed, 1),
        "latency_ms": round(latency * 1000),
        "cdr_database": cdr,
        "delay_p50_s": round(pct(delays, 50), 3),
        "delay_p95_s": round(pct(delays, 95), 3),
        "delay_p99_s": round(pct(delays, 99), 3),
        "delay_max_s": round(max(delays), 3),
        "missing": len(set(sent_at) - set(stand.created_at)),
        "created_twice": len(keys) - len(set(keys)),
        "sync_runs": len(runs),
        "run_seconds_p50": round(
            pct([r["summary"].get("duration_seconds", 0.0) for r in runs] or [0.0], 50), 3
        ),
        "run_seconds_max": round(max([r["summary"].get("duration_seconds", 0.0) for r in runs] or [0.0]), 3),
        "push_seconds_p50": round(
            pct([r["summary"].get("push", {}).get("seconds", 0.0) for r in runs] or [0.0], 50), 3
        ),
        "p95_ok": pct(delays, 95) <= 5.0,
        "p99_ok": pct(delays, 99) <= 10.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_live_sync", description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of calls (default 300)")
    ap.add_argument("--rate", type=float, default=2.0, help="calls finishing per second (default 2)")
    ap.add_argument("--latency", type=float, default=0.05, help="stand-in seconds per request (default 0.05)")
    ap.add_argument(
        "--cdr",
        choices=("sqlite", "mariadb"),
        default="sqlite",
        help="the PBX's CDR database (default sqlite)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(bench(args.duration, args.rate, args.latency, args.cdr, Path(tmp)))
    print(json.dumps(result, indent=2))
    if not (result["p95_ok"] and result["p99_ok"]) or result["missing"] or result["created_twice"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
