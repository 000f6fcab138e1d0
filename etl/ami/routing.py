"""Smart routing: a caller waiting in the IVR goes straight to their responsible manager.

For an inbound call entering `ami.ivr_context`: caller number → client → manager's extension
(a `ManagerDirectory`); if that extension is idle, Redirect the call there with a ring timeout,
otherwise leave it in the IVR. Every decision is logged with its reason; in dry-run mode
decisions are only logged.
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
        return DirectoryMatch(client, ext, f"{key} is assigned to extension {ext}")


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
        dry_run: bool = False,
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
        """AMI event handler: schedule a decision for a channel first seen in the IVR context."""
        if not self.ivr_context or msg.get("Context") != self.ivr_context or msg.event == "Hangup":
            return
        linkedid = msg.get("Linkedid") or msg.get("Uniqueid")
        if not linkedid or not msg.get("Channel") or linkedid in self._seen_set:
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
        if not caller or caller == "<unknown>":
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
            "routing %s caller=%s → %s%s (%s)",
            decision.linkedid,
            decision.caller,
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
