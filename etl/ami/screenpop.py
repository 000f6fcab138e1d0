"""Screen pop: AMI events → ringing / answered / hangup per extension, for 1C.

- `DialBegin` whose destination channel is an extension's phone → `ringing` (caller fields are
  the plain ones, callee fields are prefixed `Dest`, docs/reference/asterisk.md §4.3);
- `DialEnd` with `DialStatus: ANSWER` → `answered`;
- `Hangup` of an extension's channel → `hangup`.

Caller numbers are normalised and matched to a client through the same `ManagerDirectory` that
smart routing uses.
"""

from __future__ import annotations

import re
import time
from typing import Any

from etl.ami.protocol import Message
from etl.ami.routing import ManagerDirectory
from etl.phones import PhoneNormaliser


def channel_pattern(channel_template: str) -> re.Pattern[str]:
    """`PJSIP/{ext}` → matches `PJSIP/101-0000002a` and captures `101`."""
    before, _, after = channel_template.partition("{ext}")
    return re.compile(re.escape(before) + r"(?P<ext>[^/@;\-]+)" + re.escape(after) + r"-")


class ScreenPop:
    def __init__(
        self,
        channel_template: str,
        normaliser: PhoneNormaliser,
        directory: ManagerDirectory | None = None,
    ) -> None:
        self._channel = channel_pattern(channel_template)
        self.normaliser = normaliser
        self.directory = directory

    def extension_of(self, channel: str | None) -> str | None:
        m = self._channel.match(channel or "")
        return m["ext"] if m else None

    def translate(self, msg: Message) -> dict[str, Any] | None:
        name = msg.event
        if name == "DialBegin":
            kind, prefix = "ringing", "Dest"
        elif name == "DialEnd" and (msg.get("DialStatus") or "").upper() == "ANSWER":
            kind, prefix = "answered", "Dest"
        elif name == "Hangup":
            kind, prefix = "hangup", ""
        else:
            return None
        ext = self.extension_of(msg.get(prefix + "Channel"))
        if ext is None:
            return None
        if prefix:
            caller = msg.get("CallerIDNum") or ""
            linkedid = msg.get("DestLinkedid") or msg.get("Linkedid") or ""
            uniqueid = msg.get("DestUniqueid") or ""
        else:
            caller = msg.get("ConnectedLineNum") or ""
            linkedid = msg.get("Linkedid") or ""
            uniqueid = msg.get("Uniqueid") or ""
        if caller == "<unknown>":
            caller = ""
        number = self.normaliser.external(caller) or caller
        client = None
        if number and self.directory is not None and not self.normaliser.is_extension(caller):
            client = self.directory.lookup(number).client
        return {
            "type": kind,
            "extension": ext,
            "caller": number,
            "client": client,
            "linkedid": linkedid,
            "uniqueid": uniqueid,
            "ts": time.time(),
        }
