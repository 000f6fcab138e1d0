"""Screen pop: AMI events → ringing / answered / hangup per extension, for 1C.

- `DialBegin` whose destination channel is an extension's phone → `ringing` (caller fields are
  the plain ones, callee fields are prefixed `Dest`, docs/reference/asterisk.md §4.3);
- `DialEnd` with `DialStatus: ANSWER` → `answered`;
- `Hangup` of an extension's channel → `hangup`, once: the `;2` half of a Local-channel phone
  is the far side of the same leg, not a second call.

Every event names the call (`linkedid`, the id to intercept it with), the phone's leg
(`uniqueid`, `channel`) and, apart from it, the caller's leg (`caller_uniqueid`,
`caller_channel`), found by `Calls` (etl/ami/calls.py). Caller numbers are normalised and
matched to a client through the same `ManagerDirectory` that smart routing uses.
"""

from __future__ import annotations

import re
import time
from typing import Any

from etl.ami.calls import Calls, Leg
from etl.ami.protocol import Message
from etl.ami.routing import ManagerDirectory
from etl.phones import PhoneNormaliser


def channel_pattern(channel_template: str) -> re.Pattern[str]:
    """`PJSIP/{ext}` → matches `PJSIP/101-0000002a` and captures `101`."""
    before, _, after = channel_template.partition("{ext}")
    return re.compile(re.escape(before) + r"(?P<ext>[^/@;\-]+)" + re.escape(after) + r"-")


def is_local_far_half(channel: str) -> bool:
    """`Local/…;2`: the half of a Local channel pair the dialled side runs on."""
    return channel.startswith("Local/") and channel.endswith(";2")


class ScreenPop:
    def __init__(
        self,
        channel_template: str,
        normaliser: PhoneNormaliser,
        directory: ManagerDirectory | None = None,
        calls: Calls | None = None,
    ) -> None:
        self._channel = channel_pattern(channel_template)
        self.normaliser = normaliser
        self.directory = directory
        self.calls = calls if calls is not None else Calls(lambda c: self.extension_of(c) is not None)

    def extension_of(self, channel: str | None) -> str | None:
        """The extension whose phone this channel is (`PJSIP/trunk-…` is no extension's)."""
        m = self._channel.match(channel or "")
        return m["ext"] if m and self.normaliser.is_extension(m["ext"]) else None

    def translate(self, msg: Message) -> dict[str, Any] | None:
        """The screen-pop event for this AMI event, if any; every event also feeds `calls`."""
        try:
            return self._translate(msg)
        finally:
            self.calls.apply(msg)  # after: a Hangup still finds its call's caller leg

    def _translate(self, msg: Message) -> dict[str, Any] | None:
        name = msg.event
        if name == "DialBegin":
            kind, prefix = "ringing", "Dest"
        elif name == "DialEnd" and (msg.get("DialStatus") or "").upper() == "ANSWER":
            kind, prefix = "answered", "Dest"
        elif name == "Hangup":
            kind, prefix = "hangup", ""
        else:
            return None
        channel = msg.get(prefix + "Channel") or ""
        ext = self.extension_of(channel)
        if ext is None or (kind == "hangup" and is_local_far_half(channel)):
            return None
        if prefix:
            caller = msg.get("CallerIDNum") or ""
            name = msg.get("CallerIDName") or ""
            linkedid = msg.get("DestLinkedid") or msg.get("Linkedid") or ""
            uniqueid = msg.get("DestUniqueid") or ""
            dialling = msg.get("Channel") or ""
            caller_leg: Leg | None = (
                Leg(msg.get("Uniqueid") or "", dialling, linkedid)
                if dialling and self.extension_of(dialling) is None
                else self.calls.caller_leg(linkedid)
            )
        else:
            caller = msg.get("ConnectedLineNum") or ""
            name = msg.get("ConnectedLineName") or ""
            linkedid = msg.get("Linkedid") or ""
            uniqueid = msg.get("Uniqueid") or ""
            caller_leg = self.calls.caller_leg(linkedid)
        caller = self.calls.dialled(linkedid) or caller  # a click-to-call: the number it dials
        if caller in ("<unknown>", ext):  # a phone's own number is not who called it
            caller = ""
        number = self.normaliser.external(caller) or caller
        client = None
        if number and self.directory is not None and not self.normaliser.is_extension(caller):
            client = self.directory.lookup(number).client
        return {
            "type": kind,
            "extension": ext,
            "caller": number,
            "caller_name": "" if name == "<unknown>" or self.calls.dialled(linkedid) else name,
            "client": client,
            "linkedid": linkedid,
            "uniqueid": uniqueid,
            "channel": channel,
            "caller_uniqueid": caller_leg.uniqueid if caller_leg else None,
            "caller_channel": caller_leg.channel if caller_leg else None,
            "ts": time.time(),
        }
