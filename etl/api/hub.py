"""Fan-out of screen-pop events to SSE subscribers, each with its own bounded queue, and the
recent events for long-polling (`poll`).

A slow subscriber never slows the AMI reader or the others: when its queue is full the oldest
event is dropped and counted (the subscriber is told in its next event).

Events about the whole PBX (`line`: an extension's state changed; `queue`: the callers waiting
in queues changed) go to every subscriber, whatever extension it follows: every panel shows
the colleagues' lines and the queues.

`close()` ends every stream (on shutdown): each subscription's `get` answers None after what is
already queued, so its HTTP handler returns and the response ends cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from typing import Any

BROADCAST = frozenset({"line", "queue", "ami"})
KEEP = 1000  # events kept for long-polling


def for_extension(event: dict[str, Any], extension: str | None) -> bool:
    return extension is None or event.get("type") in BROADCAST or event.get("extension") == extension


class Subscription:
    def __init__(self, hub: EventHub, extension: str | None, maxsize: int) -> None:
        self.hub = hub
        self.extension = extension
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: dict[str, Any]) -> None:
        if not for_extension(event, self.extension):
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
    def __init__(self, maxsize: int = 1000, keep: int = KEEP) -> None:
        self.maxsize = maxsize
        self.subscribers: set[Subscription] = set()
        self.closed = False
        self._ids = itertools.count(1)
        self.last_id = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._changed = asyncio.Event()

    def subscribe(self, extension: str | None = None) -> Subscription:
        sub = Subscription(self, extension, self.maxsize)
        if self.closed:  # shutting down: a stream that ends at once
            sub.end()
        else:
            self.subscribers.add(sub)
        return sub

    def publish(self, event: dict[str, Any]) -> None:
        event = {"id": next(self._ids), **event}
        self.last_id = event["id"]
        self.recent.append(event)
        for sub in list(self.subscribers):
            sub.offer(event)
        self._changed.set()
        self._changed = asyncio.Event()

    def after(self, cursor: int, extension: str | None) -> tuple[list[dict[str, Any]], bool]:
        """The kept events after `cursor` for this extension, and whether some were lost (the
        cursor is older than the oldest kept event)."""
        lost = bool(self.recent) and cursor + 1 < self.recent[0]["id"] and cursor > 0
        events = [e for e in self.recent if e["id"] > cursor and for_extension(e, extension)]
        return events, lost

    async def poll(
        self, cursor: int | None, extension: str | None, wait: float
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """Events after `cursor` (None: from now on), waiting up to `wait` seconds for one;
        the events, the next cursor, and whether events were lost before them."""
        start = self.last_id if cursor is None else cursor
        if start > self.last_id:  # a cursor from before a restart: all that is kept is new
            start = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            events, lost = self.after(start, extension)
            left = deadline - loop.time()
            if events or left <= 0 or self.closed:
                return events, (events[-1]["id"] if events else max(start, self.last_id)), lost
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def close(self) -> None:
        """End every stream (shutdown); later subscriptions end at once."""
        self.closed = True
        for sub in list(self.subscribers):
            sub.end()
        self._changed.set()
