"""Smart routing: a caller waiting in the IVR goes straight to their responsible manager.

For an inbound call entering `ami.ivr_context`: caller number → client → manager's extension
(a `ManagerDirectory`); if that extension is idle, Redirect the call there with a ring timeout,
otherwise leave it in the IVR. Every decision is logged with the client and its reason; in
dry-run mode (the default) decisions are only logged.

When to decide, and on which channel (the real Asterisk 22 capture,
tests/fixtures/asterisk22-live-scenarios/README.md): once per call (linkedid), when the caller's
number is known, on the channel that runs the IVR. A trunk channel's `Newchannel` in the IVR
context already carries the number; a Local channel's never does (`<unknown>`, then
`NewCallerid`), so for it the decision waits for the first `Newexten` in the context, by which
time the number is set. A `Newexten` of a Dial's outgoing side (`AppDial`, `AppDial2`) is not
the IVR running: a Local pair's `;1` shows one, while its `;2` runs the dialplan.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from etl.ami.operations import Operations
from etl.ami.protocol import Message
from etl.ami.states import ExtensionStates
from etl.errors import AmiError, OperationRefused
from etl.phones import PhoneNormaliser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectoryMatch:
    client: str | None
    extension: str | None
    reason: str


class ManagerDirectory(Protocol):
    """Who is responsible for a caller: `lookup(number)` → client, extension and why."""

    def lookup(self, number: str) -> DirectoryMatch: ...


class TomlManagerDirectory:
    """`[ami.managers]`: `"+79161234567" = "101"` or `"+79161234567" = "101; ООО Ромашка"`.

    Keys are normalised with `PhoneNormaliser`, so `8 916 123-45-67` in the file matches a
    caller presented as `79161234567`.
    """

    def __init__(self, managers: dict[str, str], normaliser: PhoneNormaliser) -> None:
        self.normaliser = normaliser
        self._table: dict[str, tuple[str, str | None]] = {}
        for number, value in managers.items():
            ext, _, client = value.partition(";")
            key = normaliser.external(number) or number.strip()
            self._table[key] = (ext.strip(), client.strip() or None)

    def lookup(self, number: str) -> DirectoryMatch:
        key = self.normaliser.external(number) or number.strip()
        found = self._table.get(key)
        if found is None:
            return DirectoryMatch(None, None, f"no manager for {key}")
        ext, client = found
        who = f"{key} is {client}, assigned to" if client else f"{key} is assigned to"
        return DirectoryMatch(client, ext, f"{who} extension {ext}")


@dataclass(frozen=True)
class RoutingDecision:
    uniqueid: str
    linkedid: str
    channel: str
    caller: str
    client: str | None
    extension: str | None
    action: str  # "redirect" | "stay"
    reason: str
    dry_run: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class SmartRouter:
    """Feed it every AMI event (`on_event`); it decides once per call entering the IVR."""

    def __init__(
        self,
        ops: Operations,
        states: ExtensionStates,
        directory: ManagerDirectory,
        normaliser: PhoneNormaliser,
        *,
        ivr_context: str,
        ring_timeout: int = 20,
        dry_run: bool = True,
        history: int = 500,
    ) -> None:
        self.ops, self.states, self.directory = ops, states, directory
        self.normaliser = normaliser
        self.ivr_context = ivr_context
        self.ring_timeout = ring_timeout
        self.dry_run = dry_run
        self.decisions: deque[RoutingDecision] = deque(maxlen=history)
        self._seen: deque[str] = deque(maxlen=10_000)
        self._seen_set: set[str] = set()
        self._tasks: set[asyncio.Task[RoutingDecision]] = set()

    def on_event(self, msg: Message) -> None:
        """AMI event handler: schedule the decision for a call once its IVR channel is known."""
        if not self.ivr_context or msg.get("Context") != self.ivr_context:
            return
        channel = msg.get("Channel") or ""
        if msg.event == "Newexten":
            if (msg.get("Application") or "") in _NOT_THE_IVR:
                return
        elif msg.event == "Newchannel":
            if channel.startswith("Local/") or _withheld(msg.get("CallerIDNum")):
                return  # the number comes later (NewCallerid), before the first Newexten
        else:
            return
        linkedid = msg.get("Linkedid") or msg.get("Uniqueid")
        if not linkedid or not channel or linkedid in self._seen_set:
            return
        self._remember(linkedid)
        task = asyncio.get_running_loop().create_task(self.decide(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for decisions in progress (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def decide(self, msg: Message) -> RoutingDecision:
        caller = msg.get("CallerIDNum") or ""
        channel = msg.get("Channel") or ""
        stay = RoutingDecision(
            uniqueid=msg.get("Uniqueid") or "",
            linkedid=msg.get("Linkedid") or msg.get("Uniqueid") or "",
            channel=channel,
            caller=caller,
            client=None,
            extension=None,
            action="stay",
            reason="",
            dry_run=self.dry_run,
        )
        if _withheld(caller):
            return self._record(replace(stay, reason="caller number withheld"))
        if self.normaliser.is_extension(caller):
            return self._record(replace(stay, reason="internal caller"))
        match = self.directory.lookup(caller)
        stay = replace(stay, client=match.client, extension=match.extension)
        if match.extension is None:
            return self._record(replace(stay, reason=f"unknown caller: {match.reason}"))
        state = self.states.get(match.extension)
        if state is None or not state.idle:
            what = state.status_text if state else "state unknown"
            return self._record(replace(stay, reason=f"manager {match.extension} is {what}"))
        if not self.dry_run:
            try:
                await self.ops.route_to(channel, match.extension, self.ring_timeout)
            except (AmiError, OperationRefused) as exc:
                return self._record(replace(stay, reason=f"redirect failed: {exc}"))
        return self._record(replace(stay, action="redirect", reason=f"{match.reason}; idle"))

    def _record(self, decision: RoutingDecision) -> RoutingDecision:
        self.decisions.append(decision)
        log.info(
            "routing %s caller=%s client=%s → %s%s (%s)",
            decision.linkedid,
            decision.caller or "-",
            decision.client or "-",
            decision.action,
            f" {decision.extension}" if decision.action == "redirect" else "",
            decision.reason + ("; dry run, nothing sent" if decision.dry_run else ""),
        )
        return decision

    def _remember(self, linkedid: str) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(linkedid)
        self._seen_set.add(linkedid)


# Newexten of a Dial's (or Queue's) outgoing side: the channel is not running the IVR.
_NOT_THE_IVR = frozenset({"AppDial", "AppDial2", "AppQueue"})


def _withheld(number: str | None) -> bool:
    return not number or number == "<unknown>"
