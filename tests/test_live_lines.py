"""Line status (`GET /v1/extensions`) on the real Asterisk 22 streams of the capture, replayed
byte for byte: the hint's state is the extension's state, ringing included, and the last known
states stay readable while AMI is down.

tests/fixtures/asterisk22-live-scenarios/README.md: phones are `Local/10x@phones`, hints `10x` =
`Custom:10x` and `20x` = `Local/10x@phones`, in the context `phones`. While 101 rings its hint
says 8 Ringing, and a `DeviceStateChange` of `Local/101@phones` says INUSE in the same moment.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from etl.sandbox.ami import TOKEN, WAIT, LiveStack, run
from tests.live_replay import Replay, Scenario, where
from tests.test_api import until

AUTH = {"Authorization": f"Bearer {TOKEN}"}
Test = Callable[[LiveStack, Replay, aiohttp.ClientSession], Awaitable[None]]


def replayed(name: str, test: Test) -> None:
    """Run `test` with the live stack logged in to a double that replays scenario `name`."""

    async def main() -> None:
        stack = LiveStack(channel="Local/{ext}@phones", hint_context="phones")
        # the phones idle, for a scenario whose driver asked no ExtensionStateList (README)
        stack.double.hint_context = "phones"
        stack.double.extensions = {e: (0, f"Custom:{e}") for e in ("101", "102", "103")}
        replay = Replay(stack.double, Scenario.load(name))
        async with stack, aiohttp.ClientSession(stack.url) as http:
            replay.watch(stack.client)
            await test(stack, replay, http)

    run(main())


async def lines(http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get("/v1/extensions", headers=AUTH) as r:
        assert r.status == 200
        return await r.json()  # type: ignore[no-any-return]


def status(answer: dict[str, Any], exten: str) -> tuple[int, str]:
    (line,) = [x for x in answer["extensions"] if x["exten"] == exten]
    return line["status"], line["status_text"]


async def at_each_hint_change(
    replay: Replay, http: aiohttp.ClientSession, exten: str = "101"
) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """GET /v1/extensions before the call and after each ExtensionStatus of `exten` together
    with every event recorded up to the next one (the device states that follow it); and the
    hint's recorded states at those points."""
    events = replay.scenario.events
    changes = [i for i, r in enumerate(events) if where("ExtensionStatus", Exten=exten)(r)]
    answers = [await lines(http)]
    for end in [i - 1 for i in changes[1:]] + [len(events) - 1]:
        await replay.until(lambda r, last=events[end]: r is last)
        await replay.delivered()
        answers.append(await lines(http))
    recorded = [(int(events[i].get("Status") or ""), events[i].get("StatusText") or "") for i in changes]
    return answers, recorded


def test_blf_states_follow_the_hint_ringing_included() -> None:
    async def t(stack: LiveStack, replay: Replay, http: aiohttp.ClientSession) -> None:
        answers, recorded = await at_each_hint_change(replay, http)
        got = [status(a, "101") for a in answers]
        assert got == [(0, "Idle"), *recorded]
        assert [code for code, _ in got] == [0, 8, 1, 16, 1, 0]  # README: Idle Ringing InUse Hold InUse Idle
        # the hint on the Local device (201) says InUse all along, as Asterisk's own hint does
        assert [status(a, "201")[0] for a in answers] == [0, 1, 1, 1, 1, 0]

    replayed("blf_states", t)


def test_an_inbound_call_shows_ringing_until_it_is_answered() -> None:
    async def t(stack: LiveStack, replay: Replay, http: aiohttp.ClientSession) -> None:
        answers, recorded = await at_each_hint_change(replay, http)
        assert [status(a, "101") for a in answers] == [(0, "Idle"), (8, "Ringing"), (1, "InUse"), (0, "Idle")]
        assert [status(a, "101") for a in answers[1:]] == recorded

    replayed("inbound_ringing_answered", t)


def test_while_ami_is_down_the_last_known_states_are_served_with_connected_false() -> None:
    async def t(stack: LiveStack, replay: Replay, http: aiohttp.ClientSession) -> None:
        await replay.until(where("DeviceStateChange", Device="Local/101@phones", State="INUSE"))
        await replay.delivered()
        before = await lines(http)
        assert status(before, "101") == (8, "Ringing") and before["ami"]["connected"] is True
        await stack.double.stop()  # the PBX goes away mid-call
        await until(lambda: not stack.client.connected)
        down = await lines(http)
        assert down["ami"]["connected"] is False
        assert down["extensions"] == before["extensions"]  # the last known states, as they were

    replayed("inbound_ringing_answered", t)


async def next_event(stream: aiohttp.ClientResponse, kind: str) -> dict[str, Any]:
    """The data of the next server-sent event of type `kind` (others and keep-alives skipped)."""
    name = None
    async for raw in stream.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name == kind:
            return json.loads(line.removeprefix("data: "))  # type: ignore[no-any-return]
    raise AssertionError(f"the event stream ended before an {kind!r} event")


def test_the_event_stream_says_pbx_down_once_when_ami_drops_and_connected_once_it_is_back() -> None:
    """The client's disconnect hook tells the panels at once; failed reconnect attempts add
    nothing; the login that succeeds brings `connected: true` (the resync)."""

    async def main() -> None:
        async with (
            LiveStack() as stack,
            aiohttp.ClientSession(stack.url) as http,
            http.get("/v1/events", headers=AUTH) as stream,
        ):
            assert await stream.content.readline() == b": connected\n"
            double = stack.double
            double.users, double.auth_fail_delay = {}, 0.0  # back, but refusing every login
            logins = len(double.actions_named("Login"))
            await double.restart()
            down = await asyncio.wait_for(next_event(stream, "ami"), WAIT)
            assert down["connected"] is False and stack.feed.ami_up is False
            await until(lambda: len(double.actions_named("Login")) >= logins + 3)
            double.users = {"cdr1c": "s3cret-ami-secret"}
            back = await asyncio.wait_for(next_event(stream, "ami"), WAIT)
            assert back["connected"] is True and stack.client.connects == 2

    run(main())
