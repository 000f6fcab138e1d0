"""Line status: a table of extension states fed by ExtensionStateList and live events.

Sources (docs/reference/asterisk.md §4.2):
- `ExtensionStateList` → one `ExtensionStatus` event per hint: the full table, asked for after
  every (re)connect because events are not replayed (§4.1);
- `ExtensionStatus` events (class call) for every hint change;
- `DeviceStateChange` (`Device`, `State` as a string) for every device, hinted or not; mapped to
  an extension through the channel template (`PJSIP/{ext}`).

The hint's `ExtensionStatus` is the extension's state: a device state only fills in for an
extension that has no hint. They disagree on a real PBX: while 101 rings its hint says
`8 Ringing`, but the device `Local/101@phones` says `INUSE` (a Local channel has no ringing
state), and a colleague's pickup key needs the ringing (tests/fixtures/asterisk22-live-scenarios,
blf_states). The table is kept while AMI is down: the last known states, until the resync.

Status codes are bit flags; -1 means "hint removed", not "extension removed".
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from etl.ami.protocol import Message

STATUS_TEXT = {
    -2: "Removed",
    -1: "Unknown",
    0: "Idle",
    1: "InUse",
    2: "Busy",
    4: "Unavailable",
    8: "Ringing",
    9: "InUse&Ringing",
    16: "Hold",
    17: "InUse&Hold",
}
# DeviceStateChange `State` strings → the ExtensionStatus code they correspond to.
DEVICE_STATE_CODES = {
    "NOT_INUSE": 0,
    "INUSE": 1,
    "BUSY": 2,
    "INVALID": -1,
    "UNAVAILABLE": 4,
    "RINGING": 8,
    "RINGINUSE": 9,
    "ONHOLD": 16,
    "UNKNOWN": -1,
}


@dataclass(frozen=True)
class ExtensionState:
    exten: str
    status: int
    status_text: str
    hint: str = ""
    context: str = ""
    updated: float = 0.0

    @property
    def idle(self) -> bool:
        return self.status == 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def device_pattern(channel_template: str) -> re.Pattern[str]:
    """`PJSIP/{ext}` → a regex matching the device `PJSIP/101` and capturing `101`."""
    before, _, after = channel_template.partition("{ext}")
    return re.compile(re.escape(before) + r"(?P<ext>[^/@;\-]+)" + re.escape(after) + r"\Z")


class ExtensionStates:
    """The current state of every known extension; `apply(event)` keeps it up to date."""

    def __init__(
        self, channel_template: str = "PJSIP/{ext}", hint_context: str = "", clock: Any = time.time
    ) -> None:
        self._device = device_pattern(channel_template)
        self.hint_context = hint_context
        self._clock = clock
        self._states: dict[str, ExtensionState] = {}
        self._hinted: set[str] = set()  # extensions whose state their hint gives

    def get(self, exten: str) -> ExtensionState | None:
        return self._states.get(exten)

    def all(self) -> list[ExtensionState]:
        return [self._states[k] for k in sorted(self._states)]

    def is_idle(self, exten: str) -> bool:
        state = self._states.get(exten)
        return state is not None and state.idle

    def replace_all(self, items: list[Message]) -> None:
        """Replace the table with an ExtensionStateList answer (after a (re)connect)."""
        self._states.clear()
        self._hinted.clear()
        for msg in items:
            self.apply(msg)

    def apply(self, msg: Message) -> bool:
        """Update from an ExtensionStatus, or a DeviceStateChange of an extension without a hint;
        True if the table changed."""
        name = msg.event
        if name == "ExtensionStatus":
            exten, context = msg.get("Exten") or "", msg.get("Context") or ""
            if not exten or (self.hint_context and context and context != self.hint_context):
                return False
            try:
                status = int(msg.get("Status") or "-1")
            except ValueError:
                status = -1
            text = msg.get("StatusText") or STATUS_TEXT.get(status, "Unknown")
            if status < 0:  # hint or extension removed: device states may fill in again
                self._hinted.discard(exten)
            else:
                self._hinted.add(exten)
            self._set(ExtensionState(exten, status, text, msg.get("Hint") or "", context, self._clock()))
            return True
        if name == "DeviceStateChange":
            m = self._device.match(msg.get("Device") or "")
            if not m:
                return False
            exten = m["ext"]
            if exten in self._hinted:  # the hint's state stands
                return False
            status = DEVICE_STATE_CODES.get((msg.get("State") or "").upper(), -1)
            old = self._states.get(exten)
            self._set(
                ExtensionState(
                    exten,
                    status,
                    STATUS_TEXT.get(status, "Unknown"),
                    old.hint if old else msg.get("Device") or "",
                    old.context if old else "",
                    self._clock(),
                )
            )
            return True
        return False

    def _set(self, state: ExtensionState) -> None:
        self._states[state.exten] = state
