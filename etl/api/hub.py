"""Fan-out of screen-pop events to SSE subscribers, each with its own bounded queue.

A slow subscriber never slows the AMI reader or the others: when its queue is full the oldest
event is dropped and counted (the subscriber is told in its next event).

`close()` ends every stream (on shutdown): each subscription's `get` answers None after what is
already queued, so its HTTP handler returns and the response ends cleanly.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any


class Subscription:
    def __init__(self, hub: EventHub, extension: str | None, maxsize: int) -> None:
        self.hub = hub
        self.extension = extension
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: dict[str, Any]) -> None:
        if self.extension is not None and event.get("extension") != self.extension:
            return
        self._put(event)

    def end(self) -> None:
        """No more events: `get` answers None once the queue is drained."""
        self._put(None)

    def _put(self, item: dict[str, Any] | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)

    async def get(self) -> dict[str, Any] | None:
        """The next event, or None when the stream has ended."""
        return await self.queue.get()

    def close(self) -> None:
        self.hub.subscribers.discard(self)


class EventHub:
    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self.subscribers: set[Subscription] = set()
        self.closed = False
        self._ids = itertools.count(1)

    def subscribe(self, extension: str | None = None) -> Subscription:
        sub = Subscription(self, extension, self.maxsize)
        if self.closed:  # shutting down: a stream that ends at once
            sub.end()
        else:
            self.subscribers.add(sub)
        return sub

    def publish(self, event: dict[str, Any]) -> None:
        event = {"id": next(self._ids), **event}
        for sub in list(self.subscribers):
            sub.offer(event)

    def close(self) -> None:
        """End every stream (shutdown); later subscriptions end at once."""
        self.closed = True
        for sub in list(self.subscribers):
            sub.end()
