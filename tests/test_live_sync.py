"""The event-driven sync of `cdr1c live` (issue 17) on real parts: the AMI double sending the
capture's real `Cdr` events, a CDR database written row by row as Asterisk writes it, the ledger
on each back-end, the 1C stand-in on a real socket; and the timer's `cdr1c sync` beside it."""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import subprocess
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from etl.config import Settings
from etl.errors import ExitCode, LockHeld
from etl.ledger.store import Ledger
from etl.ledger.tables import cdr_rows
from etl.metrics import write_metrics
from etl.sandbox.ami import AmiDouble, until
from etl.sandbox.ami.wire import run
from etl.sandbox.standin import Faults, StandIn
from etl.status import collect_status
from jobs import sync
from jobs.status import render_text
from tests.conftest import CAPTURE, require_fixtures
from tests.live_sync_support import (
    Call,
    Pbx,
    calls,
    capture_calls,
    event_bytes,
    live_sync,
    recorded_channel_events,
    sync_runs,
    with_tag,
    write_config,
)
from tests.ops_helpers import cdr1c


def created(stand: StandIn) -> list[tuple[object, ...]]:
    return list(stand.stats.created_keys)


def holds(stand: StandIn, *group: Call) -> bool:
    want = set().union(*(c.register_keys() for c in group))
    return want <= set(created(stand))


def assert_once(stand: StandIn, *group: Call) -> None:
    keys = created(stand)
    assert len(keys) == len(set(keys)), "a record was created twice in 1C"
    assert set(keys) == set().union(*(c.register_keys() for c in group))
    assert stand.stats.patches == 0


def world(
    tmp_path: Path,
    ledger_url: str,
    stand: StandIn,
    double: AmiDouble,
    ami: str = "",
    recordings: Path | None = None,
) -> tuple[Settings, Pbx]:
    require_fixtures()
    pbx_url = f"sqlite:///{tmp_path / 'pbx.sqlite'}"
    pbx = Pbx(pbx_url)
    return write_config(tmp_path, ledger_url, stand, double.port, pbx_url, ami, recordings), pbx


def test_a_burst_of_legs_of_one_queue_call_gives_one_sync_run(tmp_path: Path, ledger_url: str) -> None:
    """A ring-group call ends four legs at once: four `Cdr` events, one sync run, four records."""
    (call,) = [c for c in calls(31) if len(c.rows) == 4]

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn() as stand:
            settings, pbx = world(tmp_path, ledger_url, stand, double, "sync_debounce = 0.5")

            async with live_sync(settings) as (_, syncer):
                pbx.write(call)
                await double.emit_raw(event_bytes(double, call))
                await until(lambda: holds(stand, call) and syncer.debouncer.pending() == 0)
                assert syncer.ends_seen == 4
                assert syncer.runs == 1
            pbx.close()
            assert [r["trigger"] for r in sync_runs(ledger_url)] == ["ami-cdr"]
            assert_once(stand, call)
        await double.stop()

    run(scenario())


def test_an_event_before_its_row_is_in_the_database_still_delivers(tmp_path: Path, ledger_url: str) -> None:
    """The `Cdr` event comes before cdr_adaptive_odbc commits: the run finds nothing, the retry
    finds the row once it is there."""
    (call,) = calls(1)

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn() as stand:
            settings, pbx = world(tmp_path, ledger_url, stand, double, "sync_retry = 0.2")

            async with live_sync(settings) as (_, syncer):
                await double.emit_raw(event_bytes(double, call))
                await until(lambda: syncer.runs >= 1)
                assert syncer.last["not_found_yet"] == 1 and syncer.debouncer.pending() == 1
                pbx.write(call)  # now the database has it
                await until(lambda: holds(stand, call) and syncer.debouncer.pending() == 0)
                assert syncer.given_up == 0
            pbx.close()
            assert_once(stand, call)
        await double.stop()

    run(scenario())


def test_ami_dropped_mid_run_then_the_timer_delivers_everything_once(tmp_path: Path, ledger_url: str) -> None:
    """Calls delivered by their events; AMI goes away; more calls end (no events reach cdr1c);
    the timer's sync delivers them; each record is in 1C once, and another timer run finds
    nothing left to do."""
    first, later = calls(3), calls(5, start=3)

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn() as stand:
            settings, pbx = world(tmp_path, ledger_url, stand, double)

            async with live_sync(settings) as (client, syncer):
                for call in first:
                    pbx.write(call)
                    await double.emit_raw(event_bytes(double, call))
                await until(lambda: holds(stand, *first) and syncer.debouncer.pending() == 0)
                await double.stop()  # AMI down
                await until(lambda: not client.connected)
                for call in later:
                    pbx.write(call)
                code = await asyncio.to_thread(sync.run, settings)
                assert code in (ExitCode.OK, ExitCode.NEEDS_ATTENTION)  # the stand-in lacks the event doc
                assert holds(stand, *later)
                assert syncer.ends_seen == sum(len(c.rows) for c in first)
            pbx.close()
            assert_once(stand, *first, *later)
            again = await asyncio.to_thread(sync.run, settings)
            assert again in (ExitCode.OK, ExitCode.NEEDS_ATTENTION)
            last = sync_runs(ledger_url)[-1]["summary"]
            assert last["trigger"] == "timer"
            assert last["sources"]["default"]["new"] == 0
            assert last["push"]["delivered"] == 0 and last["push"]["patched"] == 0
            assert_once(stand, *first, *later)
            # `cdr1c status` and the metrics: which path delivered what, and how soon
            ledger = Ledger.open(ledger_url)
            state = collect_status(settings, ledger)
            ledger.close()
            paths = state["delivery"]["paths"]
            assert paths["ami-cdr"]["delivered"] == sum(len(c.rows) for c in first)
            assert paths["timer"]["delivered"] == sum(len(c.rows) for c in later)
            assert paths["timer"]["runs"] == 2 and paths["ami-cdr"]["last_delivery"] is not None
            delay = state["delivery"]["delay_seconds"]
            assert delay["delivered"] == sum(len(c.rows) for c in (*first, *later)) and delay["waiting"] == 0
            assert 0 <= delay["p50"] <= delay["p95"]
            text = render_text(state)
            assert "Delivery, last hour: ami-cdr: " in text and "end of call → in 1C: p50 " in text
            write_metrics(tmp_path / "cdr1c.prom", state)
            prom = (tmp_path / "cdr1c.prom").read_text()
            assert (
                f'cdr1c_delivered_last_hour{{path="ami-cdr"}} {float(paths["ami-cdr"]["delivered"])}' in prom
            )
            assert 'cdr1c_delivery_delay_seconds{quantile="0.95"}' in prom
            assert "cdr1c_calls_waiting_last_hour 0.0" in prom

    run(scenario())


def test_timer_and_event_path_racing_leave_every_record_once(tmp_path: Path, ledger_url: str) -> None:
    """Calls end while the timer's sync starts beside the event path, mid-batch: both take the
    same per-source lock (the loser exits 6 or tries again), share one outbox, and 1C gets every
    record exactly once; a timer run afterwards finds nothing left to do."""
    batches = [calls(6, start=6 * i) for i in range(4)]
    everything = [c for b in batches for c in b]

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn() as stand:
            settings, pbx = world(
                tmp_path, ledger_url, stand, double, "sync_debounce = 0.05\nsync_retry = 0.1"
            )

            async def timer() -> bool:
                try:
                    await asyncio.to_thread(sync.run, settings)
                except LockHeld:  # the CLI's exit 6: the event path holds the lock
                    return False
                return True

            async with live_sync(settings) as (_, syncer):
                timers = []
                for batch in batches:
                    for i, call in enumerate(batch):
                        pbx.write(call)
                        await double.emit_raw(event_bytes(double, call))
                        if i == len(batch) // 2:
                            timers.append(asyncio.create_task(timer()))
                    await until(lambda b=batch: holds(stand, *b))  # type: ignore[misc]
                await asyncio.gather(*timers)
                await until(lambda: holds(stand, *everything) and syncer.debouncer.pending() == 0)
                assert syncer.given_up == 0
            pbx.close()
            assert_once(stand, *everything)
            assert await timer()
            last = sync_runs(ledger_url)[-1]["summary"]
            assert last["trigger"] == "timer" and last["sources"]["default"]["new"] == 0
            assert last["push"]["delivered"] == 0 and last["push"]["patched"] == 0
            assert_once(stand, *everything)
            assert "ami-cdr" in {r["trigger"] for r in sync_runs(ledger_url)}
        await double.stop()

    run(scenario())


def test_recording_metadata_goes_with_the_call_when_the_file_is_closed_else_later(
    tmp_path: Path, ledger_url: str
) -> None:
    """The file MixMonitor closed at the hangup is linked before the push: the record reaches 1C
    with its path and duration in that one delivery. A file that appears only later (copied from
    another host, say) follows in a later delivery, as a patch of the record."""
    templates = capture_calls()
    now_call, later_call = (Call(*templates[i]) for i in (1, 3))  # the capture's own ids and dates
    monitor = tmp_path / "monitor"
    day = CAPTURE / "monitor" / "2026" / "11" / "25"

    def place(call: Call) -> None:
        name = call.rows[0]["recordingfile"]
        (monitor / "2026" / "11" / "25").mkdir(parents=True, exist_ok=True)
        shutil.copy(day / name, monitor / "2026" / "11" / "25" / name)

    stand: list[StandIn] = []

    def record(call: Call) -> dict[str, object]:
        (row,) = call.rows
        key = f"{row['uniqueid']}#{row['sequence']}"
        return next(r for r in stand[0].records() if r["ИдентификаторСтроки"] == key)

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn() as s:
            stand.append(s)
            settings, pbx = world(tmp_path, ledger_url, s, double, recordings=monitor)
            place(now_call)
            async with live_sync(settings) as (_, syncer):
                for call in (now_call, later_call):
                    pbx.write(call)
                    await double.emit_raw(event_bytes(double, call))
                await until(lambda: holds(s, now_call, later_call) and syncer.debouncer.pending() == 0)
                assert str(record(now_call)["ПутьКЗаписи"]).endswith(now_call.rows[0]["recordingfile"])
                assert float(record(now_call)["ДлительностьЗаписи"]) > 0  # type: ignore[arg-type]
                assert record(later_call)["ПутьКЗаписи"] == ""
                assert s.stats.patches == 0
                place(later_call)  # the file appears: the next run links it and patches the record
            pbx.close()
            await asyncio.to_thread(sync.run, settings)
            assert str(record(later_call)["ПутьКЗаписи"]).endswith(later_call.rows[0]["recordingfile"])
            assert s.stats.patches == 1
            keys = created(s)
            assert len(keys) == len(set(keys)) == 2
        await double.stop()

    run(scenario())


def rows_in(ledger: Ledger) -> int:
    """CDR rows in the ledger a child writes (0 while it has not created its tables)."""
    try:
        return ledger.count(cdr_rows)
    except SQLAlchemyError:
        return 0


def test_kill9_of_cdr1c_live_mid_run_then_the_timer_loses_nothing(tmp_path: Path, ledger_url: str) -> None:
    """`cdr1c live` (the real command, a child process) is killed with SIGKILL while its
    event-driven runs write the ledger and push: the timer's sync then brings every record to 1C,
    each once."""
    group = calls(12)
    rows = sum(len(c.rows) for c in group)
    kill_at = random.Random(17).randint(1, rows - 1)  # ledger rows when the kill lands

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn(faults=Faults(latency=0.02)) as stand:
            settings, pbx = world(tmp_path, ledger_url, stand, double, "sync_debounce = 0.05")
            config = tmp_path / "cdr1c.toml"
            with config.open("a", encoding="utf-8") as f:
                f.write('[api]\nlisten = "127.0.0.1:0"\ntoken = "t0ken-for-tests-0123456789"\n')
            live = cdr1c(config, "live", stdout=subprocess.DEVNULL)
            try:
                await until(lambda: bool(double.logged_in()) or live.poll() is not None, 60)
                assert live.poll() is None, live.stderr.read().decode() if live.stderr else ""
                for call in group:
                    pbx.write(call)
                    await double.emit_raw(event_bytes(double, call))
                ledger = Ledger.open(ledger_url, create=False)
                try:
                    await until(lambda: rows_in(ledger) >= kill_at, 60)
                finally:
                    ledger.close()
            finally:
                live.send_signal(signal.SIGKILL)
                live.wait(30)
            pbx.close()
            code = await asyncio.to_thread(sync.run, settings)
            assert code in (ExitCode.OK, ExitCode.NEEDS_ATTENTION)
            assert_once(stand, *group)
        await double.stop()

    run(scenario())


def test_without_cdr_manager_the_last_hangup_of_a_call_delivers_it(tmp_path: Path, ledger_url: str) -> None:
    """`sync_on = "hangup"`: the capture's real channel events of a ring-group call (its
    Newchannels, its legs hanging up one by one); the last Hangup starts one run."""
    (call,) = [c for c in calls(31) if len(c.rows) == 4]
    original = call.linkedid.rsplit("x", 1)[0]
    events = with_tag(recorded_channel_events(original), call.linkedid.rsplit("x", 1)[1])

    async def scenario() -> None:
        double = AmiDouble()
        await double.start()
        with StandIn() as stand:
            settings, pbx = world(tmp_path, ledger_url, stand, double, 'sync_on = "hangup"')
            async with live_sync(settings) as (_, syncer):
                pbx.write(call)
                await double.emit_raw(b"".join(double.message(ev) for ev in events))
                await until(lambda: holds(stand, call) and syncer.debouncer.pending() == 0)
                assert syncer.ends_seen == 1 and syncer.runs == 1
            pbx.close()
            assert [r["trigger"] for r in sync_runs(ledger_url)] == ["ami-hangup"]
            assert_once(stand, call)
        await double.stop()

    run(scenario())
