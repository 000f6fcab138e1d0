"""The AMI double checked against the real Asterisk 22 capture, so it cannot drift again.

For every recorded scenario (tests/fixtures/asterisk22-live-scenarios/), the driver socket's
actions that the double simulates are sent to the double byte for byte, from a session logged
in as the driver was (`Events: off`), while a second session listens (`Events: on`) as the
recording's listener did. What each session gets back must match the recording: the same
messages in the same order, the same header names in the same order, and the same values,
except those that name a moment or a PBX's own counters (`VOLATILE`, channel name suffixes).

The double is a protocol double: it does not run calls. What it does not simulate is listed
here, not skipped silently: the actions in `NOT_SIMULATED`, and the listener events in
`NOT_SIMULATED_EVENTS` (a call's own events are covered by replaying the recording itself,
tests/live_replay.py). A new action or event in the capture fails the test until it is listed.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from etl.ami.protocol import FrameParser, Message
from etl.sandbox.ami import AmiDouble, OriginatePlan, run
from tests.live_replay import Exchange, Scenario

SIMULATED = {
    "Login",
    "Logoff",
    "Setvar",
    "Originate",
    "Redirect",
    "Hangup",
    "ExtensionState",
    "ExtensionStateList",
}
NOT_SIMULATED = {
    "QueuePause": "the double has no queues",
    "QueueStatus": "the double has no queues",
    "PlayDTMF": "the double runs no channels",
}
SIMULATED_EVENTS = {"FullyBooted", "OriginateResponse"}
NOT_SIMULATED_EVENTS_NOTE = (
    "every other listener event: the call's own events (Newchannel, DialBegin, Hangup, Cdr, …), "
    "VarSet of a global Setvar, SuccessfulAuth of each login, ExtensionStatus/DeviceStateChange "
    "of the phones; the replay covers them"
)
# A moment or a PBX's counters, not something the double can or should reproduce.
VOLATILE = {"timestamp", "uptime", "lastreload"}
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;[12])$")


def shape(msg: Message) -> list[tuple[str, str]]:
    out = []
    for k, v in msg.headers:
        if k.lower() in VOLATILE:
            v = "…"
        elif k.lower() == "channel":
            v = _CHANNEL_SUFFIX.sub(r"-…\1", v)
        out.append((k, v))
    return out


def test_every_recorded_action_is_simulated_or_listed() -> None:
    recorded = {x.action.get("Action") for name in Scenario.names() for x in Scenario.load(name).driver}
    assert recorded <= SIMULATED | set(NOT_SIMULATED)
    assert set(NOT_SIMULATED) <= recorded  # the list names only what the capture has


@pytest.mark.parametrize("name", Scenario.names())
def test_the_double_answers_the_recorded_actions_as_asterisk_did(name: str) -> None:
    sc = Scenario.load(name)
    exchanges = [x for x in sc.driver if x.action.get("Action") in SIMULATED]
    expected_driver = [shape(a.message) for x in exchanges for a in x.answers]
    ids = {x.action.get("ActionID") for x in exchanges}
    expected_listener = [
        shape(r.message)
        for r in sc.events
        if r.event in SIMULATED_EVENTS and (r.event == "FullyBooted" or r.get("ActionID") in ids)
    ]
    driver, listener = run(_drive(sc, exchanges))  # type: ignore[misc]
    assert [shape(m) for m in driver] == expected_driver
    assert [shape(m) for m in listener] == expected_listener


async def _drive(sc: Scenario, exchanges: list[Exchange]) -> tuple[list[Message], list[Message]]:
    double = AmiDouble(users={"etl": "etlsecret"})
    double.hint_context = "phones"
    for x in exchanges:  # the calls' outcomes are the recording's
        outcome = next(
            (
                r
                for r in sc.events
                if r.event == "OriginateResponse" and r.get("ActionID") == x.action.get("ActionID")
            ),
            None,
        )
        if outcome is not None:
            plan = OriginatePlan(outcome.get("Response") or "", int(outcome.get("Reason") or 0))
            double.originate_plans[x.action.get("Channel") or ""] = plan
    await double.start()
    listener = await _Session.open(double.port)
    await listener.send(
        b"Action: Login\r\nActionID: listener-login\r\n"
        b"Username: etl\r\nSecret: etlsecret\r\nEvents: on\r\n\r\n"
    )
    await listener.receive(2)  # the login answer and FullyBooted
    driver = await _Session.open(double.port)
    originates = 0
    for x in exchanges:
        for a in x.answers:  # the phones' states at that moment are the recording's
            if a.get("Hint") is not None:
                double.extensions[a.get("Exten") or ""] = (int(a.get("Status") or 0), a.get("Hint") or "")
        await driver.send(x.action.raw)
        await driver.receive(len(driver.got) + len(x.answers))
        originates += x.action.get("Action") == "Originate"
    await listener.receive(2 + originates)
    await listener.send(b"Action: Logoff\r\nActionID: listener-logoff\r\n\r\n")
    await listener.until_closed()
    await driver.until_closed()  # the recorded driver ended with Logoff: nothing may follow
    await double.stop()
    # The listener's own Login/Logoff answers are not part of the comparison.
    return driver.got, [m for m in listener.got if m.event is not None]


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.got: list[Message] = []

    @classmethod
    async def open(cls, port: int) -> _Session:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readuntil(b"\r\n")  # banner
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, total: int) -> None:
        while len(self.got) < total:
            data = await asyncio.wait_for(self.reader.read(65536), 10)
            assert data, f"connection closed after {len(self.got)} of {total} messages"
            self.got += self.parser.feed(data)

    async def until_closed(self) -> None:
        while data := await asyncio.wait_for(self.reader.read(65536), 10):
            self.got += self.parser.feed(data)
        self.writer.close()
