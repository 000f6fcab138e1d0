"""The replay tooling itself: bytes, pacing and recorded answers (tests/live_replay.py)."""

from __future__ import annotations

import asyncio
import gzip
import random

from etl.ami.client import AmiClient, Backoff
from etl.ami.protocol import Message
from etl.sandbox.ami import BANNER, AmiDouble, run
from tests.live_replay import CAPTURE, Replay, Scenario

SECRET = "s3cret-ami-secret"


def test_every_scenario_loads_with_its_truth() -> None:
    names = Scenario.names()
    assert len(names) == 16
    for name in names:
        sc = Scenario.load(name)
        assert sc.events[0].event == "FullyBooted", name
        assert sc.truth["scenario"] == name
        assert all(r.event for r in sc.events), name


def test_replayed_bytes_are_the_recorded_listener_stream() -> None:
    name = "queue_wait_intercept_redirect"
    recorded = gzip.decompress((CAPTURE / f"{name}.recv.bin.gz").read_bytes())

    async def main() -> bytes:
        double = AmiDouble()
        replay = Replay(double, Scenario.load(name))
        await double.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", double.port)
        writer.write(b"Action: Login\r\nUsername: cdr1c\r\nSecret: " + SECRET.encode() + b"\r\n\r\n")
        got = await reader.readuntil(b"Message: Authentication accepted\r\n\r\n")
        assert got.startswith(BANNER)
        await replay.rest()
        total = sum(len(r.raw) for r in replay.scenario.events)
        stream = await reader.readexactly(total)
        writer.close()
        await double.stop()
        return stream

    stream = run(main())
    assert isinstance(stream, bytes)
    start = recorded.index(b"Event: FullyBooted")
    # Everything from the first event up to the listener's own Logoff answer, byte for byte.
    assert stream == recorded[start : recorded.rindex(b"Response: Goodbye")]


def test_until_paces_the_stream_and_tracks_live_channels() -> None:
    sc = Scenario.load("queue_wait_intercept_redirect")
    caller = sc.truth["caller_leg"]["channel"]

    async def main() -> None:
        double = AmiDouble()
        replay = Replay(double, sc)
        await double.start()
        client = AmiClient("127.0.0.1", double.port, "cdr1c", SECRET, backoff=Backoff(0.02, 0.05))
        seen: list[Message] = []
        client.on_event(seen.append)
        replay.watch(client)
        await client.start()
        await client.wait_connected(5)
        join = await replay.until("QueueCallerJoin")
        await replay.delivered()
        assert join.get("Channel") == caller
        assert [m.headers for m in seen] == [r.message.headers for r in sc.events[: replay.cursor]]
        assert double.channels is not None and caller in double.channels
        # A channel the recording has not created yet does not exist for Redirect.
        later = sc.truth["all_channels"][-1]["channel"]
        assert later not in double.channels
        await replay.rest()
        await replay.delivered()
        assert len(seen) == len(sc.events)
        assert double.channels == set()  # every channel hung up by the end
        await client.stop()
        await double.stop()

    run(main())


def test_actions_are_answered_as_the_driver_was() -> None:
    sc = Scenario.load("queue_wait_intercept_redirect")
    caller = sc.truth["caller_leg"]["channel"]

    async def main() -> None:
        double = AmiDouble()
        replay = Replay(double, sc)
        await double.start()
        client = AmiClient(
            "127.0.0.1", double.port, "cdr1c", SECRET, backoff=Backoff(0.02, 0.05), rng=random.Random(1)
        )
        await client.start()
        await client.wait_connected(5)
        await replay.until("QueueCallerJoin")
        fields = [("Channel", caller), ("Context", "from-internal"), ("Exten", "102"), ("Priority", 1)]
        answer = await client.send_action("Redirect", fields)
        assert answer.get("Message") == "Redirect successful"
        assert answer.action_id != "driver-10" and answer.action_id is not None
        assert [x.action.get("ActionID") for _, x in replay.answered] == ["driver-10"]
        _, items = await client.send_list("QueueStatus", [("Queue", "support")])
        # The first recorded QueueStatus (before the call): no QueueEntry yet.
        assert [m.event for m in items] == ["QueueParams"] + ["QueueMember"] * 3
        _, items = await client.send_list("QueueStatus", [("Queue", "support")])
        assert items[-1].event == "QueueEntry" and items[-1].get("Channel") == caller
        await client.stop()
        await double.stop()

    run(main())
