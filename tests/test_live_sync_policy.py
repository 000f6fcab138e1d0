"""The event-driven sync's policy (etl/live_sync.py), pure: which AMI events end a call, on the
real Asterisk 22 stream of the capture, and how ends become sync runs (a clock we move)."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.ami.protocol import Message
from etl.live_sync import CallEnds, Debouncer, Ended
from tests.capture import capture_rows
from tests.conftest import CAPTURE, require_fixtures


def capture_events() -> list[Message]:
    require_fixtures()
    with gzip.open(CAPTURE / "ami_events.jsonl.gz", "rt", encoding="utf-8") as f:
        return [Message([(k, str(v)) for k, v in json.loads(line).items() if k != "_t"]) for line in f]


def test_cdr_mode_ends_once_per_cdr_row_of_the_capture() -> None:
    ends = CallEnds("cdr")
    got = [e for msg in capture_events() if (e := ends.apply(msg)) is not None]
    rows = capture_rows()
    assert len(got) == len(rows) == 48
    assert Counter(e.key for e in got) == Counter(r["uniqueid"] for r in rows)
    assert {e.kind for e in got} == {"cdr"}


def test_hangup_mode_ends_each_call_of_the_capture_once_at_its_last_hangup() -> None:
    ends = CallEnds("hangup")
    events = capture_events()
    got: list[tuple[int, Ended]] = []
    for i, msg in enumerate(events):
        e = ends.apply(msg)
        if e is not None:
            got.append((i, e))
    linkedids = {r["linkedid"] for r in capture_rows()}
    assert Counter(e.key for _, e in got) == Counter(linkedids)  # every call, once
    for i, e in got:  # no channel of that call lives on after its end
        later = [m for m in events[i + 1 :] if m.get("Linkedid") == e.key and m.event == "Newchannel"]
        assert later == []


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="sync_on"):
        CallEnds("always")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=0.49), min_size=1, max_size=20))
def test_a_burst_within_the_quiet_gap_is_one_run(gaps: list[float]) -> None:
    d = Debouncer(quiet=0.5, max_wait=30.0)
    now = 100.0
    for i, gap in enumerate(gaps):
        now += gap
        assert not d.due(now)
        d.add(now, Ended("cdr", f"u{i % 3}"))
    assert not d.due(now + 0.49)
    assert d.due(now + 0.5)
    taken = d.take(now + 0.5)
    assert sum(w.count for w in taken) == len(gaps)
    assert d.missing(now + 1, []) == [] and d.next_at() is None and d.pending() == 0


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=5, max_value=200))
def test_a_steady_stream_still_runs_every_max_wait(n: int) -> None:
    """Ends every 0.3 s never leave a quiet gap of 0.5 s: the run comes after max_wait anyway."""
    d = Debouncer(quiet=0.5, max_wait=2.0)
    runs = []
    for i in range(n):
        t = i * 0.3
        if d.due(t):
            runs.append(t)
            d.missing(t, [])  # everything found
            d.take(t)
        d.add(t, Ended("cdr", str(i)))
    assert all(b - a <= 2.0 + 0.3 for a, b in zip([0.0, *runs], runs, strict=False))


def test_what_a_run_did_not_find_is_retried_then_given_up() -> None:
    d = Debouncer(quiet=0.1, max_wait=1.0, retry=1.0, give_up=5.0)
    d.add(0.0, Ended("cdr", "u1"))
    d.add(0.0, Ended("hangup", "L1"))
    (w1, _) = d.take(0.1)
    assert d.missing(0.5, [w1]) == []  # u1 not in the database yet; L1 found
    assert d.pending() == 1 and d.next_at() == 1.5
    t = 1.5
    while True:
        (w,) = d.take(t)
        gave_up = d.missing(t + 0.1, [w])
        if gave_up:
            break
        t = d.next_at() or t
    assert gave_up[0].key == "u1" and gave_up[0].tries >= 4 and d.pending() == 0
    assert d.next_at() is None


def test_an_end_coming_again_during_a_run_is_looked_for_by_the_next() -> None:
    """A second `Cdr` of the same uniqueid while the run reads: the run may have missed that row."""
    d = Debouncer(quiet=0.1, max_wait=1.0)
    d.add(0.0, Ended("cdr", "u1"))
    d.take(0.1)
    d.add(0.2, Ended("cdr", "u1"))  # during the run
    assert d.missing(0.3, []) == []  # the run found one row: the wait is not forgotten
    assert d.pending() == 1 and d.waits[("cdr", "u1")].count == 2
    assert d.due(0.31)


def test_a_locked_run_is_postponed() -> None:
    d = Debouncer(quiet=0.1, max_wait=1.0, retry=0.5)
    d.add(0.0, Ended("cdr", "u1"))
    d.take(0.1)
    d.postpone(0.2)
    assert d.pending() == 1 and d.next_at() == 0.7


def _cdr(uid: str) -> Message:
    return Message([("Event", "Cdr"), ("Privilege", "cdr,all"), ("UniqueID", uid)])


def test_the_runner_retries_a_locked_run_and_gives_up_on_a_failing_one() -> None:
    """LiveSync's worker on fake runs: the lock held twice, then a run that finds the row; and a
    run that keeps failing (the ledger unreachable) is retried until `give_up`, never forever."""
    from etl.errors import ExitCode
    from etl.sandbox.ami import until
    from etl.sandbox.ami.wire import run
    from jobs.live_sync import LiveSync, Outcome

    calls: list[tuple[str, int]] = []

    def locked_twice(settings, source, waits, trigger, stop):  # type: ignore[no-untyped-def]
        calls.append((trigger, len(waits)))
        if len(calls) <= 2:
            return Outcome(ExitCode.LOCKED, list(waits), locked=True)
        return Outcome(ExitCode.OK, [])

    def failing(settings, source, waits, trigger, stop):  # type: ignore[no-untyped-def]
        raise RuntimeError("the ledger is unreachable")

    async def scenario() -> None:
        ok = LiveSync(None, "default", "cdr", Debouncer(0.0, 0.0, 0.05, 5.0), runner=locked_twice)  # type: ignore[arg-type]
        await ok.start()
        ok.on_event(_cdr("1.1"))
        await until(lambda: ok.runs == 1 and ok.debouncer.pending() == 0)
        assert calls == [("ami-cdr", 1)] * 3 and ok.status()["given_up"] == 0
        await ok.stop()
        bad = LiveSync(None, "default", "cdr", Debouncer(0.0, 0.0, 0.05, 0.3), runner=failing)  # type: ignore[arg-type]
        await bad.start()
        bad.on_event(_cdr("1.2"))
        await until(lambda: bad.given_up == 1 and bad.debouncer.pending() == 0)
        assert bad.runs == 0 and bad.debouncer.next_at() is None
        await bad.stop()

    run(scenario())


def test_status_says_failing_with_the_error_redacted_until_a_run_succeeds() -> None:
    """What `/health` shows of the worker: a run that raised (its message carrying a URL with a
    password and a configured secret) → failing, both masked; the next run's success → ok, the
    last error kept with its time; a run with exit 5 is not a failure."""
    from types import SimpleNamespace

    from etl.errors import ExitCode
    from etl.sandbox.ami import until
    from etl.sandbox.ami.wire import run
    from jobs.live_sync import LiveSync, Outcome

    codes = [None, ExitCode.OK, ExitCode.NEEDS_ATTENTION]

    def runner(settings, source, waits, trigger, stop):  # type: ignore[no-untyped-def]
        code = codes.pop(0)
        if code is None:
            raise RuntimeError("cannot open mysql+pymysql://cdr:pw-Secret-1@db/cdr (key s3cret-ami-secret)")
        return Outcome(code, [], delivered=2)

    async def scenario() -> None:
        settings = SimpleNamespace(secrets=lambda: ["s3cret-ami-secret"])
        live = LiveSync(
            settings, "default", "hangup", Debouncer(0.0, 0.0, 0.01, 60.0), runner=runner, wall=lambda: 0.0
        )  # type: ignore[arg-type]
        assert live.status()["state"] == "idle" and live.status()["last_run"] is None
        await live.start()
        live.on_event(Message([("Event", "Hangup"), ("Uniqueid", "1.1"), ("Linkedid", "1.1")]))
        await until(lambda: live.status()["state"] == "failing")
        failed = live.status()
        assert failed["mode"] == "hangup" and failed["waiting"] == 1  # retried
        assert failed["last_run"]["outcome"] == "failed" and failed["last_run"]["exit_code"] == 1
        error = {"at": "1970-01-01T00:00:00+00:00", "message": "RuntimeError: cannot open "
                 "mysql+pymysql://cdr:***@db/cdr (key ***)"}  # fmt: skip
        assert failed["last_error"] == error
        await until(lambda: live.status()["state"] == "ok")
        ok = live.status()
        assert ok["waiting"] == 0 and ok["last_error"] == error
        assert ok["last_run"]["outcome"] == "ok" and ok["last_run"]["delivered"] == 2
        assert ok["last_run"]["trigger"] == "ami-hangup"
        live.on_event(Message([("Event", "Hangup"), ("Uniqueid", "1.2"), ("Linkedid", "1.2")]))
        await until(lambda: live.status()["last_run"]["outcome"] == "attention")
        assert live.status()["state"] == "ok"
        await live.stop()

    run(scenario())
