"""The event-driven sync's world for tests and the benchmark: a PBX that writes its `cdr` table
as Asterisk does (one INSERT per row, at the end of the leg) and sends the real `Cdr` events of
the capture (tests/fixtures/asterisk22-capture1/ami_events.jsonl.gz) through the AMI double,
the 1C stand-in on a real socket, and `cdr1c live`'s event-driven sync on a real AMI client."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, select

from etl.ami.client import AmiClient, Backoff
from etl.config import Settings
from etl.config.load import load_settings
from etl.ledger.store import Ledger
from etl.ledger.tables import runs
from etl.live_sync import Debouncer
from etl.sandbox.ami import AmiDouble, Headers
from etl.sandbox.ami.wire import WAIT
from etl.sandbox.standin import StandIn
from jobs.live_sync import LiveSync
from tests.capture import capture_columns, capture_rows
from tests.conftest import CAPTURE

TIMES = ("calldate", "start", "answer", "end")


def recorded_cdr_events() -> dict[str, list[Headers]]:
    """The capture's real `Cdr` events by UniqueID, in the order Asterisk sent them."""
    out: dict[str, list[Headers]] = defaultdict(list)
    with gzip.open(CAPTURE / "ami_events.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("Event") == "Cdr":
                out[ev["UniqueID"]].append([(k, str(v)) for k, v in ev.items() if k != "_t"])
    return out


@dataclass
class Call:
    """One call of the capture, copied with its own ids: its CDR rows and its `Cdr` events."""

    linkedid: str
    rows: list[dict[str, Any]]
    events: list[Headers]

    def register_keys(self) -> set[tuple[str, str]]:
        """The register keys 1C holds for it: (source, row_id)."""
        return {("default", f"{r['uniqueid']}#{r['sequence']}") for r in self.rows}


def capture_calls() -> list[tuple[str, list[dict[str, Any]], list[Headers]]]:
    """The 31 calls of the capture: linkedid, rows (by sequence), the rows' `Cdr` events."""
    by_call: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in capture_rows():
        by_call[r["linkedid"]].append(r)
    events = recorded_cdr_events()
    out = []
    for linkedid, rows in by_call.items():
        rows.sort(key=lambda r: r["sequence"])
        used: dict[str, int] = defaultdict(int)
        evs = []
        for r in rows:
            evs.append(events[r["uniqueid"]][used[r["uniqueid"]]])
            used[r["uniqueid"]] += 1
        out.append((linkedid, rows, evs))
    return out


def recorded_channel_events(linkedid: str) -> list[Headers]:
    """The capture's real channel events (every event naming a uniqueid) of one call."""
    uids: set[str] = set()
    out: list[Headers] = []
    with gzip.open(CAPTURE / "ami_events.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("Linkedid") == linkedid:
                uids.add(ev.get("Uniqueid", ""))
            if ev.get("Uniqueid") in uids or ev.get("Linkedid") == linkedid:
                out.append([(k, str(v)) for k, v in ev.items() if k != "_t"])
    return out


def with_tag(events: list[Headers], tag: str) -> list[Headers]:
    """Uniqueid, Linkedid and UniqueID values suffixed by `tag`, as `copy_call` does to rows."""
    ids = ("Uniqueid", "Linkedid", "UniqueID", "DestUniqueid", "DestLinkedid")
    return [[(k, f"{v}x{tag}" if k in ids and v else v) for k, v in ev] for ev in events]


def copy_call(template: tuple[str, list[dict[str, Any]], list[Headers]], tag: str, end: datetime) -> Call:
    """The call with ids suffixed by `tag`, shifted in time so that it ends at `end`."""
    linkedid, rows, events = template
    shift = end - max(r["end"] for r in rows)
    new_rows = []
    for r in rows:
        c = dict(r)
        c["uniqueid"], c["linkedid"] = f"{r['uniqueid']}x{tag}", f"{r['linkedid']}x{tag}"
        for k in TIMES:
            if c.get(k) is not None:
                c[k] = r[k] + shift
        new_rows.append(c)
    new_events = [[(k, f"{v}x{tag}" if k == "UniqueID" else v) for k, v in ev] for ev in events]
    return Call(f"{linkedid}x{tag}", new_rows, new_events)


def calls(n: int, start: int = 0, end: datetime | None = None) -> list[Call]:
    """`n` calls cycling through the capture's, each ending `end` (default: now, UTC)."""
    templates = capture_calls()
    when = end or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return [copy_call(templates[i % len(templates)], str(i), when) for i in range(start, start + n)]


class Pbx:
    """The PBX's CDR database: a FreePBX `cdr` table written one row at a time."""

    def __init__(self, url: str) -> None:
        md = MetaData()
        cols = [
            Column(name, DateTime if kind == "datetime" else Integer if kind == "int" else String(255))
            for name, kind in capture_columns()
        ]
        self.table = Table("cdr", md, *cols)
        self.engine = create_engine(url)
        md.create_all(self.engine)

    def write(self, call: Call) -> None:
        """Each row in its own transaction, as cdr_adaptive_odbc commits them."""
        for row in call.rows:
            with self.engine.begin() as conn:
                conn.execute(self.table.insert(), [row])

    def close(self) -> None:
        self.engine.dispose()


def event_bytes(double: AmiDouble, call: Call) -> bytes:
    return b"".join(double.message(ev) for ev in call.events)


def write_config(
    tmp: Path,
    ledger_url: str,
    stand: StandIn,
    ami_port: int,
    pbx_url: str,
    ami: str = "",
    recordings: Path | None = None,
) -> Settings:
    path = tmp / "cdr1c.toml"
    mode = "" if "sync_on" in ami else 'sync_on = "cdr"'
    extra = "" if recordings is None else f'[recordings]\nroot = "{recordings}"\n'
    path.write_text(
        f'[source]\nurl = "{pbx_url}"\ntimezone = "UTC"\nlookback = "30m"\n'
        f'[state]\nurl = "{ledger_url}"\n'
        f'[onec]\nurl = "{stand.url}"\nuser = "{stand.user}"\npassword = "{stand.password}"\n'
        'timezone = "UTC"\nretry_backoff = 0.01\n'
        f'[ami]\nhost = "127.0.0.1"\nport = {ami_port}\nuser = "cdr1c"\nsecret = "s3cret-ami-secret"\n'
        f"{mode}\n{ami}\n"
        f'[general]\nlock_dir = "{tmp / "run"}"\n{extra}',
        encoding="utf-8",
    )
    return load_settings(path)


@asynccontextmanager
async def live_sync(settings: Settings) -> AsyncIterator[tuple[AmiClient, LiveSync]]:
    """An AMI client logged in to the double, feeding a running `LiveSync` (as jobs/live.py)."""
    ami = settings.ami
    assert ami is not None
    debouncer = Debouncer(ami.sync_debounce, ami.sync_max_wait, ami.sync_retry, ami.sync_give_up)
    syncer = LiveSync(settings, "default", ami.sync_on, debouncer)
    client = AmiClient(ami.host, ami.port, ami.user, ami.secret, backoff=Backoff(0.02, 0.05))

    async def reconnected(_: AmiClient) -> None:
        syncer.on_reconnect()

    client.on_connect(reconnected)
    client.on_event(syncer.on_event)
    await syncer.start()
    await client.start()
    await client.wait_connected(WAIT)
    try:
        yield client, syncer
    finally:
        await client.stop()
        await syncer.stop()


def sync_runs(ledger_url: str) -> list[dict[str, Any]]:
    """Finished sync runs: id, trigger and summary."""
    ledger = Ledger.open(ledger_url, create=False)
    try:
        with ledger.engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.id, runs.c.summary).where(runs.c.job == "sync", runs.c.finished.is_not(None))
            ).all()
    finally:
        ledger.close()
    out = []
    for rid, summary in rows:
        s = json.loads(summary) if isinstance(summary, str) else summary
        out.append({"id": rid, "trigger": s.get("trigger"), "summary": s})
    return out
