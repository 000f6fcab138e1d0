"""A Prometheus textfile for node_exporter's textfile collector (`--metrics-file PATH`).

The values are the ones `cdr1c status --json` shows (`etl.status.collect_status`), so the file
and the status never disagree. The file is rewritten whole after every run, atomically
(prometheus_client writes a temporary file beside it and renames it), so node_exporter never
reads half a file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PREFIX = "cdr1c"


def _ts(iso: str | None) -> float | None:
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


def families(state: dict[str, Any], now: float | None = None) -> Iterator[GaugeMetricFamily]:
    """The metric families for one status snapshot (pure: no I/O)."""

    def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))

    sources = state.get("sources", {})
    rows = gauge("ledger_rows", "CDR rows in the ledger", ["source"])
    quarantined = gauge("quarantined_rows", "rows in quarantine (need a human)", ["source"])
    lag = gauge("lag_seconds", "now minus the newest call in the ledger", ["source"])
    newest = gauge("newest_call_timestamp_seconds", "calldate of the newest call in the ledger", ["source"])
    for name, s in sorted(sources.items()):
        rows.add_metric([name], s["rows"])
        quarantined.add_metric([name], s["quarantined"])
        if s.get("lag_seconds") is not None:
            lag.add_metric([name], s["lag_seconds"])
        ts = _ts(s.get("newest_call"))
        if ts is not None:
            newest.add_metric([name], ts)
    yield from (rows, quarantined, lag, newest)

    ob = state.get("outbox", {})
    backlog = gauge("outbox_pending", "register records waiting to be sent to 1C")
    backlog.add_metric([], ob.get("pending", 0))
    dead = gauge("dead_letters", "records 1C rejected for their content")
    dead.add_metric([], ob.get("dead", 0))
    yield from (backlog, dead)

    jobs = state.get("jobs", {})
    code = gauge("last_exit_code", "exit code of the job's last finished run", ["job"])
    duration = gauge("last_run_duration_seconds", "duration of the job's last finished run", ["job"])
    finished = gauge("last_run_timestamp_seconds", "when the job's last run finished", ["job"])
    success = gauge("last_success_timestamp_seconds", "when the job last finished with 0 or 5", ["job"])
    for job, j in sorted(jobs.items()):
        if j.get("last_exit_code") is not None:
            code.add_metric([job], j["last_exit_code"])
        if j.get("last_duration_seconds") is not None:
            duration.add_metric([job], j["last_duration_seconds"])
        for fam, key in ((finished, "last_finished"), (success, "last_success")):
            ts = _ts(j.get(key))
            if ts is not None:
                fam.add_metric([job], ts)
    yield from (code, duration, finished, success)

    yield from _delivery(state.get("delivery") or {}, gauge)

    written = gauge("metrics_timestamp_seconds", "when this file was written")
    written.add_metric([], time.time() if now is None else now)
    yield written


def _delivery(d: dict[str, Any], gauge: Any) -> Iterator[GaugeMetricFamily]:
    """Which path delivered in the last hour, and the end-of-call → delivery delay (etl/delivery.py)."""
    runs = gauge("sync_runs_last_hour", "sync runs finished in the last hour", ["path"])
    sent = gauge("delivered_last_hour", "records delivered to 1C in the last hour", ["path"])
    last = gauge("last_delivery_timestamp_seconds", "when a run of this path last delivered", ["path"])
    for path, p in sorted((d.get("paths") or {}).items()):
        runs.add_metric([path], p["runs"])
        sent.add_metric([path], p["delivered"])
        ts = _ts(p.get("last_delivery"))
        if ts is not None:
            last.add_metric([path], ts)
    delay = gauge("delivery_delay_seconds", "end of call to delivery in 1C, last hour", ["quantile"])
    for q in ("p50", "p95"):
        value = (d.get("delay_seconds") or {}).get(q)
        if value is not None:
            delay.add_metric([f"0.{q[1:]}"], value)
    waiting = gauge("calls_waiting_last_hour", "CDR rows of calls ended in the last hour not yet in 1C")
    waiting.add_metric([], (d.get("delay_seconds") or {}).get("waiting", 0))
    yield from (runs, sent, last, delay, waiting)


class _Snapshot(Collector):
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return families(self.state)


def write_metrics(path: Path, state: dict[str, Any]) -> None:
    """Write the textfile for `state` to `path` atomically (tmp file + rename)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(state))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
