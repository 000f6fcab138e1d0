"""How `cdr1c live` ties the AMI client to what it feeds: line status, the screen pop, smart
routing, the panels and the event-driven sync. One wiring for the live job (jobs/live.py) and
the test stack (etl/sandbox/ami/stack.py), so the tests run the order production runs."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from etl.ami.client import AmiClient
from etl.ami.protocol import Message
from etl.ami.routing import SmartRouter
from etl.ami.screenpop import ScreenPop
from etl.ami.states import ExtensionStates
from etl.api.feed import PanelFeed
from etl.errors import AmiError

log = logging.getLogger("cdr1c.live")


class EventSync(Protocol):
    """The event-driven sync (jobs/live_sync.py) as the wiring sees it."""

    def on_event(self, msg: Message) -> Any: ...

    def on_reconnect(self) -> Any: ...


def wire(
    client: AmiClient,
    *,
    states: ExtensionStates,
    feed: PanelFeed,
    pop: ScreenPop,
    router: SmartRouter,
    syncer: EventSync | None = None,
) -> None:
    """Register the connect, disconnect and event hooks on `client` (before it starts)."""

    async def resync(c: AmiClient) -> None:
        # Events are not replayed after a reconnect (docs/reference/asterisk.md §4.1):
        # ask for the whole table, and forget calls whose hangups may have been missed.
        pop.calls.reset()
        feed.resynced()
        if syncer is not None:
            syncer.on_reconnect()
        try:
            _, items = await c.send_list("ExtensionStateList")
            states.replace_all(items)
            log.info("line status resynchronised: %d extensions", len(items))
        except AmiError as exc:
            log.warning("ExtensionStateList failed: %s", exc)

    def on_event(msg: Message) -> None:
        if syncer is not None:
            syncer.on_event(msg)
        if states.apply(msg):
            feed.line(msg)  # the panels' line keys
            return
        feed.queue(msg)
        event = pop.translate(msg)
        if event is not None:
            feed.hub.publish(event)
        router.on_event(msg)

    async def lost(_: AmiClient) -> None:
        feed.disconnected()  # the panels say "PBX not connected" until `resync` runs

    client.on_connect(resync)
    client.on_disconnect(lost)
    client.on_event(on_event)
