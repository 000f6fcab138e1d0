"""Replay a recorded real-PBX call through the AMI double, byte for byte.

The capture in `tests/fixtures/asterisk22-live-scenarios/` (see its README) holds, per scenario,
the listener socket's bytes (`<name>.recv.bin.gz`, indexed by `<name>.jsonl.gz`) and the
driver socket that sent the panel's actions (`<name>.driver.jsonl`). A `Replay` makes an
`AmiDouble` play that scenario to the clients logged in to it:

- `await replay.until("QueueCallerJoin")` sends the recorded events after the login response,
  each exactly as Asterisk wrote it, up to and including the first one that matches (an event
  name plus header values, or any predicate on a `Recorded`); `await replay.rest()` sends the
  remainder. A test acts between two such points, mid-call; `drop(match)` leaves events out
  (the same call where something did not happen);
- `await replay.delivered()` waits until every client being watched (`watch(client)`) has read
  and dispatched everything sent so far: no sleeps;
- the client's actions are answered as the driver socket was answered when the recording has
  the same action (same name, and the same `Channel` where the recorded one has one; several
  such in their recorded order): the recorded response and event list, with only the
  `ActionID` changed to the client's. A recorded
  id seen later in the listener stream (an `OriginateResponse`) is rewritten the same way.
  Other actions get the double's own answers; `Redirect`/`Hangup` of a channel the replayed
  events have not created, or have already hung up, fail as on Asterisk.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from etl.ami.client import AmiClient
from etl.ami.protocol import FrameParser, Message
from etl.sandbox.ami import AmiDouble, Headers

CAPTURE = Path(__file__).parent / "fixtures" / "asterisk22-live-scenarios"


@dataclass(frozen=True)
class Recorded:
    """One message as the recording has it: seconds since its socket connected, and its bytes."""

    t: float
    raw: bytes

    @cached_property
    def message(self) -> Message:
        """Parsed by the client's own parser, so headers compare equal to what a client reads."""
        (msg,) = FrameParser().feed(self.raw)
        return msg

    @property
    def event(self) -> str | None:
        return self.message.event

    def get(self, key: str) -> str | None:
        return self.message.get(key)


@dataclass(frozen=True)
class Exchange:
    """One action the driver socket sent, and what came back for its ActionID."""

    action: Recorded
    answers: list[Recorded]


@dataclass
class Scenario:
    name: str
    truth: dict[str, Any]
    events: list[Recorded]  # the listener stream after the login response
    driver: list[Exchange] = field(default_factory=list)

    @classmethod
    def load(cls, name: str) -> Scenario:
        raw = gzip.decompress((CAPTURE / f"{name}.recv.bin.gz").read_bytes())
        text = gzip.decompress((CAPTURE / f"{name}.jsonl.gz").read_bytes()).decode()
        records = [json.loads(line) for line in text.splitlines()]
        # Only events: the responses are those to the listener's own Login and Logoff, and a
        # client logs in to the double itself.
        events = [
            Recorded(r["t"], raw[r["off"][0] : r["off"][1]])
            for r in records
            if r["dir"] == "recv" and r.get("kind") == "event"
        ]
        truth = json.loads((CAPTURE / f"{name}.truth.json").read_text())
        return cls(name, truth, events, _exchanges(CAPTURE / f"{name}.driver"))

    @staticmethod
    def names() -> list[str]:
        return sorted(p.name.removesuffix(".truth.json") for p in CAPTURE.glob("*.truth.json"))

    def index(self, match: Match, start: int = 0) -> int:
        """Position of the first event from `start` on that matches."""
        for i in range(start, len(self.events)):
            if match(self.events[i]):
                return i
        raise LookupError(f"{self.name}: no event matches after #{start}")


Match = Callable[[Recorded], bool]


def where(event: str | None = None, **headers: str) -> Match:
    """`where("DialBegin", DestChannel="Local/101@phones-0000000b;1")`: name and header values."""

    def match(r: Recorded) -> bool:
        return (event is None or r.event == event) and all(r.get(k) == v for k, v in headers.items())

    return match


def _exchanges(stem: Path) -> list[Exchange]:
    records = [json.loads(line) for line in Path(f"{stem}.jsonl").read_text().splitlines()]
    raw = Path(f"{stem}.recv.bin").read_bytes()
    out: list[Exchange] = []
    for rec in records:
        if rec["dir"] != "sent" or rec.get("kind") != "action":
            continue
        action = Recorded(rec["t"], rec["raw"].encode("utf-8", "surrogateescape"))
        aid = action.get("ActionID")
        answers = [
            Recorded(r["t"], raw[r["off"][0] : r["off"][1]])
            for r in records
            if r["dir"] == "recv" and r.get("kind") in ("response", "event") and _action_id(r) == aid
        ]
        out.append(Exchange(action, answers))
    return out


def _action_id(record: dict[str, Any]) -> str | None:
    for k, v in record.get("headers") or []:
        if k.lower() == "actionid":
            return str(v)
    return None


def _with_action_id(raw: bytes, old: str, new: str) -> bytes:
    return raw.replace(b"ActionID: " + old.encode() + b"\r\n", b"ActionID: " + new.encode() + b"\r\n", 1)


class Replay:
    """Plays `scenario` to the clients of `double` (call before the clients log in)."""

    def __init__(self, double: AmiDouble, scenario: Scenario) -> None:
        self.double = double
        self.scenario = scenario
        self.cursor = 0  # events[:cursor] have been sent
        self.ids: dict[str, str] = {}  # recorded ActionID → the client's
        self.answered: list[tuple[Headers, Exchange]] = []  # client actions answered from the recording
        self._sent: Counter[tuple[tuple[str, str], ...]] = Counter()
        self._seen: list[Counter[tuple[tuple[str, str], ...]]] = []
        double.fully_booted = False  # the recording has Asterisk's own FullyBooted
        double.channels = set()
        for name in {_name(x.action.message.headers) for x in scenario.driver}:
            double.responders[name] = self._answer

    # --- what tests call -----------------------------------------------------------------

    def watch(self, client: AmiClient) -> None:
        """Let `delivered()` wait for this client to have dispatched every replayed event."""
        seen: Counter[tuple[tuple[str, str], ...]] = Counter()
        self._seen.append(seen)
        client.on_event(lambda msg: seen.update([tuple(msg.headers)]))

    async def until(self, match: Match | str, **headers: str) -> Recorded:
        """Send events up to and including the next one that matches; return it."""
        test = where(match, **headers) if isinstance(match, str) else match
        stop = self.scenario.index(test, self.cursor)
        await self._send_to(stop + 1)
        return self.scenario.events[stop]

    def drop(self, match: Match) -> int:
        """Leave out every event not yet sent that matches (a call where that did not happen)."""
        kept = [r for r in self.scenario.events[self.cursor :] if not match(r)]
        dropped = len(self.scenario.events) - self.cursor - len(kept)
        self.scenario.events[self.cursor :] = kept
        return dropped

    async def rest(self) -> None:
        await self._send_to(len(self.scenario.events))

    async def delivered(self, timeout: float = 10.0) -> None:
        async def all_seen() -> None:
            while any(seen[k] < n for seen in self._seen for k, n in self._sent.items()):
                await asyncio.sleep(0.005)

        await asyncio.wait_for(all_seen(), timeout)

    # --- internals -------------------------------------------------------------------------

    async def _send_to(self, stop: int) -> None:
        while self.cursor < stop:
            rec = self.scenario.events[self.cursor]
            self.cursor += 1
            raw = rec.raw
            old = rec.get("ActionID")
            if old in self.ids:
                raw = _with_action_id(raw, old, self.ids[old])
            self._track(rec.message)
            await self.double.emit_raw(raw)
            (msg,) = FrameParser().feed(raw)
            self._sent[tuple(msg.headers)] += 1

    def _track(self, msg: Message) -> None:
        """Which channels exist now, as the replayed events say (for Redirect/Hangup answers)."""
        channels = self.double.channels
        assert channels is not None
        # Asterisk finds a channel for Redirect/Hangup by its name or its uniqueid.
        chan, uid = msg.get("Channel") or "", msg.get("Uniqueid") or ""
        if msg.event == "Newchannel":
            channels.update((chan, uid))
        elif msg.event == "Hangup":
            channels.difference_update((chan, uid))
        elif msg.event == "Rename":
            channels.discard(chan)
            channels.add(msg.get("Newname") or "")

    def _answer(self, action: Headers) -> list[bytes] | None:
        name = _name(action)
        given = dict((k.lower(), v) for k, v in reversed(action))
        fits = [
            x
            for x in self.scenario.driver
            if _name(x.action.message.headers) == name
            and x.action.get("Channel") in (None, given.get("channel"))
        ]
        if not fits:
            return None
        # The recorded exchanges in their order (QueueStatus before and after), the last one again.
        used = [x for _, x in self.answered]
        x = next((f for f in fits if f not in used), fits[-1])
        old, new = x.action.get("ActionID") or "", given.get("actionid", "")
        self.ids[old] = new
        self.answered.append((action, x))
        return [_with_action_id(a.raw, old, new) for a in x.answers]


def _name(headers: Headers | list[tuple[str, str]]) -> str:
    return next((v for k, v in headers if k.lower() == "action"), "").lower()
