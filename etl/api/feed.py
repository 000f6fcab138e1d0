"""What the panel needs beyond the screen-pop events: line-state and queue events for the hub,
and the data behind the cards and the queue list.

The live component calls `PanelFeed.line(msg)` after the state table took an event and
`PanelFeed.queue(msg)` for every other event; both publish a broadcast event (etl/api/hub.py)
when something a panel shows changed. The AMI client's hooks call `disconnected` (on_disconnect)
and `resynced` (on_connect), which publish `ami`, so a panel shows "PBX not connected" as soon as
the connection is found lost, and no longer once it is back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from etl.ami.protocol import Message
from etl.ami.queues import QueueWaiters
from etl.ami.routing import ManagerDirectory
from etl.ami.states import ExtensionStates
from etl.api.cards import CardSource
from etl.api.hub import EventHub


@dataclass
class PanelData:
    queues: QueueWaiters = field(default_factory=QueueWaiters)
    cards: CardSource | None = None  # None: no ledger data (the card shows the event's fields)
    directory: ManagerDirectory | None = None  # a queue waiter's client and manager
    lang: str = "ru"  # the panel's default language (the page lets each employee switch)

    def waiters(self) -> list[dict[str, Any]]:
        out = []
        for w in self.queues.all():
            item = w.as_json()
            item["client"] = item["manager_extension"] = None
            if w.caller and self.directory is not None:
                match = self.directory.lookup(w.caller)
                item["client"], item["manager_extension"] = match.client, match.extension
            out.append(item)
        return out


class PanelFeed:
    def __init__(self, hub: EventHub, states: ExtensionStates, data: PanelData) -> None:
        self.hub = hub
        self.states = states
        self.data = data
        self.ami_up = False

    def line(self, msg: Message) -> None:
        """The state table took `msg`: tell the panels the extension's new state."""
        exten = msg.get("Exten") if msg.event == "ExtensionStatus" else None
        state = self.states.get(exten) if exten else None
        if state is None:  # a device state: find the extension by the newest change
            state = max(self.states.all(), key=lambda s: s.updated, default=None)
        if state is not None:
            self.hub.publish({"type": "line", **state.as_json(), "ts": time.time()})

    def queue(self, msg: Message) -> None:
        if self.data.queues.apply(msg):
            self.hub.publish({"type": "queue", "waiting": len(self.data.queues.all()), "ts": time.time()})

    def disconnected(self) -> None:
        """The AMI session was lost (the client's `on_disconnect`, once per lost session)."""
        self.ami_up = False
        self.hub.publish({"type": "ami", "connected": False, "ts": time.time()})

    def resynced(self) -> None:
        """After a (re)connect: queue leaves may have been missed; the lines were replaced."""
        self.data.queues.reset()
        self.ami_up = True
        self.hub.publish({"type": "ami", "connected": True, "ts": time.time()})
        self.hub.publish({"type": "queue", "waiting": 0, "ts": time.time()})
