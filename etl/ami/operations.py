"""Live operations built from settings: click-to-call, intercept, spy, hang up, route.

Every input is checked against the configuration before an action is built (docs/reference/asterisk.md §5,
toll fraud): extensions against `extension_pattern`, dialled numbers against `number_pattern`,
channels only from the `channel` template, contexts only the configured ones, and no channel
variables from the caller at all. The framing checks of `protocol.serialise_action` come after
these, as a second line.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from etl.ami.calls import Calls
from etl.ami.client import PendingOriginate
from etl.ami.protocol import Message
from etl.config import AmiSettings
from etl.errors import OperationRefused
from etl.phones import DialFormat

SPY_FLAGS = {"listen": "", "whisper": "w", "barge": "B"}  # ChanSpy: listen is the default mode
INTERCEPT_MODES = ("redirect", "pickup")
# A channel name or uniqueid as Asterisk prints them (`PJSIP/101-0000002a`, `Local/1@ctx-…;2`,
# `c1c-…`). Never a leading `/`: Hangup reads `/regex/` as "every matching channel".
_CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.;@/\-]{0,148}\Z")
# What people type between the digits of a number. Nothing else is removed: a control
# character (`"84951234567\n"`) makes the number invalid, it is never stripped.
_SEPARATORS = re.compile(r"[ \u00a0\-().]")
_TYPED_NUMBER = re.compile(r"\+?[0-9]+\Z")


class ActionSender(Protocol):
    """What operations need from an AMI connection (the client, or a fake in tests)."""

    async def send_action(
        self, action: str, fields: list[tuple[str, object]] = ..., *, timeout: float | None = None
    ) -> Message: ...

    async def originate(
        self, fields: list[tuple[str, object]], *, timeout: float | None = None
    ) -> PendingOriginate: ...


def new_call_id() -> str:
    """A ChannelId of 28 characters: FreePBX's uniqueid column holds 32.

    See docs/reference/asterisk.md §4.2, §1.2."""
    return "c1c-" + secrets.token_hex(12)


@dataclass(frozen=True)
class CallStarted:
    id: str
    pending: PendingOriginate
    picked: asyncio.Future[bool] | None = None  # a pickup: did the new leg pick the call up?


@dataclass(frozen=True)
class Redirected:
    linkedid: str  # the call
    channel: str  # the caller's leg that was moved
    uniqueid: str


class Policy:
    """What the configuration allows; every method returns the checked value or raises."""

    def __init__(self, settings: AmiSettings, region: str = "RU") -> None:
        self.settings = settings
        self._number = re.compile(settings.number_pattern)
        self._extension = re.compile(settings.extension_pattern)
        self._dial = DialFormat(settings.dial_format, region, settings.extension_pattern)

    def extension(self, value: object, what: str = "extension") -> str:
        if (
            not isinstance(value, str)
            or not self._extension.fullmatch(value)
            or not (value.isascii() and value.isalnum())
        ):
            raise OperationRefused(
                f"{what}: {_show(value)} is not an extension allowed by ami.extension_pattern"
            )
        return value

    def number(self, value: object, what: str = "number") -> str:
        """The string to dial for a number as typed: digits, a leading `+`, spaces, dashes,
        dots and brackets; in `dial_format` (extensions as typed); allowed by number_pattern."""
        if not isinstance(value, str):
            raise OperationRefused(f"{what}: expected a phone number as text")
        typed = _SEPARATORS.sub("", value)
        if not _TYPED_NUMBER.match(typed):
            raise OperationRefused(
                f"{what}: {_show(value)} is not a phone number (digits, a leading +, spaces, "
                "dashes, dots and brackets)"
            )
        dialled = self._dial.dial(typed)
        if not self._number.fullmatch(dialled):
            raise OperationRefused(f"{what}: {dialled!r} is not a number allowed by ami.number_pattern")
        return dialled

    def call_id(self, value: object) -> str:
        if not isinstance(value, str) or not _CALL_ID.fullmatch(value):
            raise OperationRefused(f"call id {_show(value)} is not a channel name or uniqueid")
        return value

    def channel(self, exten: str) -> str:
        return self.settings.channel.format(ext=self.extension(exten))


class Operations:
    """The AMI actions behind the HTTP API and smart routing."""

    def __init__(
        self,
        client: ActionSender,
        settings: AmiSettings,
        id_factory: Callable[[], str] = new_call_id,
        region: str = "RU",
        calls: Calls | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.policy = Policy(settings, region)
        self._new_id = id_factory
        # Fed with every AMI event by the screen pop (`ScreenPop.calls`); intercept asks it.
        self.calls = calls if calls is not None else Calls(lambda c: False)

    async def click_to_call(self, employee: str, number: str) -> CallStarted:
        """Ring the employee's phone, then dial `number` in the configured context.

        The employee's display shows the dialled number; the call carries a preset ChannelId,
        which becomes uniqueid and linkedid of its CDR rows (docs/reference/asterisk.md §4.2).
        """
        channel = self.policy.channel(employee)
        dialled = self.policy.number(number, "to")
        call_id = self._new_id()
        self.calls.originated(call_id, dialled)  # its screen-pop events name the dialled number
        pending = await self.client.originate(
            [
                ("Channel", channel),
                ("Context", self.settings.context),
                ("Exten", dialled),
                ("Priority", 1),
                ("CallerID", f'"{dialled}" <{dialled}>'),
                ("Timeout", int(self.settings.originate_timeout * 1000)),
                ("ChannelId", call_id),
            ]
        )
        return CallStarted(call_id, pending)

    async def intercept(
        self, call_id: str, employee: str, mode: str = "redirect"
    ) -> Redirected | CallStarted:
        """Send a waiting or ringing call to `employee`.

        `call_id` is the call's linkedid from an event (a uniqueid or channel name of one of its
        legs also names the call). `redirect` moves the caller's leg, found from the events
        (`Calls`), to the employee's extension, never a phone's leg; `pickup` rings the employee
        and runs PickupChan on the phone legs ringing in that call. `NoSuchCall` (404) for a call
        not on the PBX, `CallConflict` (409) for one with no caller leg or nothing ringing.
        """
        call = self.policy.call_id(call_id)
        to = self.policy.extension(employee, "to")
        if mode == "redirect":
            leg = self.calls.caller_to_move(call)
            await self.client.send_action(
                "Redirect",
                [
                    ("Channel", self.policy.call_id(leg.channel)),
                    ("Context", self.settings.intercept_context or self.settings.context),
                    ("Exten", to),
                    ("Priority", 1),
                ],
            )
            return Redirected(leg.linkedid, leg.channel, leg.uniqueid)
        if mode == "pickup":
            ringing = "&".join(self.policy.call_id(x.channel) for x in self.calls.ringing(call))
            new_id = self._new_id()
            picked = self.calls.watch_pickup(new_id)
            try:
                pending = await self.client.originate(
                    [
                        ("Channel", self.policy.channel(to)),
                        ("Application", "PickupChan"),
                        ("Data", ringing),
                        ("CallerID", f'"Pickup" <{to}>'),
                        ("Timeout", int(self.settings.originate_timeout * 1000)),
                        ("ChannelId", new_id),
                    ]
                )
            except BaseException:
                picked.cancel()
                raise
            return CallStarted(new_id, pending, picked)
        raise OperationRefused(f"mode must be one of {', '.join(INTERCEPT_MODES)}")

    async def spy(self, supervisor: str, target: str, mode: str = "listen") -> CallStarted:
        """Ring the supervisor and connect ChanSpy to the agent's call.

        The target is the agent's channel name plus a trailing `-`, because ChanSpy matches a
        prefix (`PJSIP/10` would also match `PJSIP/101-…`); `q` keeps it quiet, `E` ends the spy
        when the agent hangs up; `w` whispers, `B` barges (docs/reference/asterisk.md §4.2).
        """
        if mode not in SPY_FLAGS:
            raise OperationRefused(f"mode must be one of {', '.join(SPY_FLAGS)}")
        agent = self.policy.channel(self.policy.extension(target, "target"))
        sup = self.policy.extension(supervisor, "supervisor")
        spy_id = self._new_id()
        pending = await self.client.originate(
            [
                ("Channel", self.policy.channel(sup)),
                ("Application", "ChanSpy"),
                ("Data", f"{agent}-,qE{SPY_FLAGS[mode]}"),
                ("CallerID", f'"{mode} {target}" <{target}>'),
                ("Timeout", int(self.settings.originate_timeout * 1000)),
                ("ChannelId", spy_id),
            ]
        )
        return CallStarted(spy_id, pending)

    async def hangup(self, call_id: str) -> Message:
        return await self.client.send_action("Hangup", [("Channel", self.policy.call_id(call_id))])

    async def route_to(self, channel: str, employee: str, ring_timeout: int) -> Message:
        """Smart routing: send an IVR caller to `employee`, ringing at most `ring_timeout` s.

        The timeout goes into the fixed channel variable CDR1C_RING_TIMEOUT (never a name or
        value from outside) that the routing context's Dial reads (docs/live.md).
        """
        chan = self.policy.call_id(channel)
        await self.client.send_action(
            "Setvar",
            [
                ("Channel", chan),
                ("Variable", "CDR1C_RING_TIMEOUT"),
                ("Value", int(ring_timeout)),
            ],
        )
        return await self.client.send_action(
            "Redirect",
            [
                ("Channel", chan),
                ("Context", self.settings.routing_context or self.settings.context),
                ("Exten", self.policy.extension(employee)),
                ("Priority", 1),
            ],
        )


def _show(value: object) -> str:
    """A value for an error message: short and with control characters made visible."""
    return repr(value if not isinstance(value, str) else value[:40])
