"""Answers matched to the actions that asked for them, by ActionID and never by order: an
action's response, its event list (`EventList: start` … `Complete`) and, for an async
Originate, its `OriginateResponse`. The client registers what it waits for here, hands every
message read to `route`, and fails whatever is still waiting when the connection ends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from etl.ami.protocol import Message
from etl.errors import AmiConnectionLost

# OriginateResponse `Reason` codes are control-frame numbers (docs/reference/asterisk.md §4.2).
ORIGINATE_REASONS = {
    0: "failed",
    1: "hangup",
    3: "no answer",
    4: "answered",
    5: "busy",
    8: "congestion",
}


@dataclass(frozen=True)
class OriginateResult:
    """What `OriginateResponse` said about an async Originate."""

    success: bool
    reason: int
    uniqueid: str | None
    channel: str | None
    message: Message

    @property
    def reason_text(self) -> str:
        return ORIGINATE_REASONS.get(self.reason, f"reason {self.reason}")


@dataclass
class PendingOriginate:
    """An Originate Asterisk has queued; `outcome` resolves with its OriginateResponse."""

    action_id: str
    response: Message
    outcome: asyncio.Future[OriginateResult]


@dataclass
class ListCollector:
    """The items of one action's event list, until its `EventList: Complete`."""

    response: asyncio.Future[Message]
    items: list[Message] = field(default_factory=list)
    done: asyncio.Future[list[Message]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Answers:
    """What the session waits for, by ActionID."""

    def __init__(self) -> None:
        self._responses: dict[str, asyncio.Future[Message]] = {}
        self._lists: dict[str, ListCollector] = {}
        self._originates: dict[str, asyncio.Future[OriginateResult]] = {}

    def expect_response(self, action_id: str) -> asyncio.Future[Message]:
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._responses[action_id] = fut
        return fut

    def expect_list(self, action_id: str) -> ListCollector:
        collector = ListCollector(response=self.expect_response(action_id))
        self._lists[action_id] = collector
        return collector

    def expect_originate(self, action_id: str) -> asyncio.Future[OriginateResult]:
        outcome: asyncio.Future[OriginateResult] = asyncio.get_running_loop().create_future()
        self._originates[action_id] = outcome
        return outcome

    def forget(self, action_id: str) -> None:
        """The action's response and list are no longer awaited (its Originate outcome may be)."""
        self._responses.pop(action_id, None)
        self._lists.pop(action_id, None)

    def forget_originate(self, action_id: str) -> None:
        outcome = self._originates.pop(action_id, None)
        if outcome is not None and not outcome.done():
            outcome.cancel()

    def route(self, msg: Message) -> bool:
        """Hand `msg` to what waits for it; True when it was an answer only (a response or a
        list item), False when it is an event for the event handlers too."""
        action_id = msg.action_id
        name = msg.event
        # Checked first: OriginateResponse is an event that also carries `Response: Success`.
        if name is None:
            if msg.response is not None:
                fut = self._responses.get(action_id or "")
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            return True
        if action_id:
            collector = self._lists.get(action_id)
            if collector is not None:
                if (msg.get("EventList") or "").lower() in ("complete", "cancelled"):
                    if not collector.done.done():
                        collector.done.set_result(collector.items)
                else:
                    collector.items.append(msg)
                return True
            if name == "OriginateResponse":
                outcome = self._originates.pop(action_id, None)
                if outcome is not None and not outcome.done():
                    outcome.set_result(originate_result(msg))
        return False

    def fail_all(self, reason: str) -> None:
        """Everything in flight fails with `AmiConnectionLost`: nothing is kept for a later
        connection, so nothing is ever sent twice."""
        err = AmiConnectionLost(reason)
        futures: list[asyncio.Future[Any]] = [
            *self._responses.values(),
            *self._originates.values(),
            *(c.done for c in self._lists.values()),
        ]
        for fut in futures:
            if not fut.done():
                fut.set_exception(err)
                fut.exception()  # mark retrieved: a caller may have gone away already
        self._responses.clear()
        self._originates.clear()
        self._lists.clear()


def originate_result(msg: Message) -> OriginateResult:
    try:
        reason = int(msg.get("Reason") or 0)
    except ValueError:
        reason = 0
    uniqueid = msg.get("Uniqueid")
    return OriginateResult(
        success=(msg.response or "").lower() == "success",
        reason=reason,
        uniqueid=None if uniqueid in (None, "<unknown>") else uniqueid,
        channel=msg.get("Channel"),
        message=msg,
    )
