"""Fan-out of screen-pop events to SSE subscribers, each with its own bounded queue.

A slow subscriber never slows the AMI reader or the others: when its queue is full the oldest
event is dropped and counted (the subscriber is told in its next event).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any


class Subscription:
    def __init__(self, hub: EventHub, extension: str | None, maxsize: int) -> None:
        self.hub = hub
        self.extension = extension
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: dict[str, Any]) -> None:
        if self.extension is not None and event.get("extension") != self.extension:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self.hub.subscribers.discard(self)


class EventHub:
    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self.subscribers: set[Subscription] = set()
        self._ids = itertools.count(1)

    def subscribe(self, extension: str | None = None) -> Subscription:
        sub = Subscription(self, extension, self.maxsize)
        self.subscribers.add(sub)
        return sub

    def publish(self, event: dict[str, Any]) -> None:
        event = {"id": next(self._ids), **event}
        for sub in list(self.subscribers):
            sub.offer(event)
