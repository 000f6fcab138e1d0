"""Callers waiting in queues, from `QueueCallerJoin` / `QueueCallerLeave` / `QueueCallerAbandon`
(and `Hangup`, for a leave missed while disconnected).

`QueueCallerJoin` names the caller's own channel (`Channel`, `Uniqueid`, `Linkedid`: the call,
the id to intercept it with), the queue and the position; its `CallerIDNum`/`CallerIDName` are
the caller's (tests/fixtures/asterisk22-live-scenarios, queue_wait_*). `apply` answers True when
the list changed, so the live component can tell the panels.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from etl.ami.protocol import Message


@dataclass
class Waiter:
    queue: str
    position: int
    linkedid: str
    uniqueid: str
    channel: str
    caller: str
    caller_name: str
    since: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class QueueWaiters:
    def __init__(self, limit: int = 1000) -> None:
        self._waiting: dict[str, Waiter] = {}  # the caller leg's uniqueid → waiter
        self._limit = limit

    def apply(self, msg: Message) -> bool:
        name = msg.event
        uid = msg.get("Uniqueid") or ""
        if name == "QueueCallerJoin" and uid:
            self._waiting[uid] = Waiter(
                queue=msg.get("Queue") or "",
                position=_int(msg.get("Position")),
                linkedid=msg.get("Linkedid") or uid,
                uniqueid=uid,
                channel=msg.get("Channel") or "",
                caller=_known(msg.get("CallerIDNum")),
                caller_name=_known(msg.get("CallerIDName")),
                since=time.time(),
            )
            if len(self._waiting) > self._limit:
                del self._waiting[next(iter(self._waiting))]
            return True
        if name in ("QueueCallerLeave", "QueueCallerAbandon", "Hangup") and uid in self._waiting:
            left = self._waiting.pop(uid)
            for other in self._waiting.values():  # the positions behind it move up
                if other.queue == left.queue and other.position > left.position:
                    other.position -= 1
            return True
        return False

    def reset(self) -> None:
        """After a reconnect: leaves may have been missed."""
        self._waiting.clear()

    def all(self) -> list[Waiter]:
        return sorted(self._waiting.values(), key=lambda w: (w.queue, w.position))


def _known(value: str | None) -> str:
    return "" if value in (None, "<unknown>") else str(value)


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
