"""The AMI double's plain actions: one function per action in `ACTIONS`, each returning the
frames Asterisk 22 answers with (as recorded in tests/fixtures/asterisk22-ami-wire/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .wire import STATUS_TEXT, Headers, first_value


class Pbx(Protocol):
    """What the actions read of the double: the channels and extension states it pretends."""

    channels: set[str] | None  # None: every channel exists
    extensions: dict[str, tuple[int, str]]  # exten → (status, hint)
    hint_context: str


@dataclass(frozen=True)
class Action:
    """An action as received, with the answers that echo its ActionID."""

    headers: Headers

    def get(self, key: str) -> str:
        return first_value(self.headers, key)

    @property
    def ids(self) -> Headers:
        aid = self.get("ActionID")
        return [("ActionID", aid)] if aid else []

    def ok(self, *extra: tuple[str, str]) -> Headers:
        return [("Response", "Success"), *self.ids, *extra]

    def err(self, message: str) -> Headers:
        return [("Response", "Error"), *self.ids, ("Message", message)]


def redirect(pbx: Pbx, a: Action) -> list[Headers]:
    chan = a.get("Channel")
    if pbx.channels is not None and chan not in pbx.channels:
        return [a.err(f"Channel does not exist: {chan}")]
    return [a.ok(("Message", "Redirect successful"))]


def hangup(pbx: Pbx, a: Action) -> list[Headers]:
    chan = a.get("Channel")
    if pbx.channels is not None and chan not in pbx.channels:
        return [a.err("No such channel")]
    return [a.ok(("Message", "Channel Hungup"))]


def setvar(pbx: Pbx, a: Action) -> list[Headers]:
    return [a.ok(("Message", "Variable Set"))]


def extension_state(pbx: Pbx, a: Action) -> list[Headers]:
    exten = a.get("Exten")
    status, hint = pbx.extensions.get(exten, (-1, ""))
    return [
        a.ok(
            ("Message", "Extension Status"),
            ("Exten", exten),
            ("Context", a.get("Context") or "default"),
            ("Hint", hint),
            ("Status", str(status)),
            ("StatusText", STATUS_TEXT.get(status, "Unknown")),
        )
    ]


def extension_state_list(pbx: Pbx, a: Action) -> list[Headers]:
    """An event list: the start answer, one ExtensionStatus per extension, the completion."""
    items = [
        [
            ("Event", "ExtensionStatus"),
            *a.ids,
            ("Exten", exten),
            ("Context", pbx.hint_context),
            ("Hint", hint),
            ("Status", str(status)),
            ("StatusText", STATUS_TEXT.get(status, "Unknown")),
        ]
        for exten, (status, hint) in pbx.extensions.items()
    ]
    done = [
        ("Event", "ExtensionStateListComplete"),
        *a.ids,
        ("EventList", "Complete"),
        ("ListItems", str(len(pbx.extensions))),
    ]
    return [a.ok(("EventList", "start"), ("Message", "Extension Statuses will follow")), *items, done]


def unknown(pbx: Pbx, a: Action) -> list[Headers]:
    text = f"Invalid/unknown command: {a.get('Action')}. Use Action: ListCommands to show available commands."
    return [a.err(text)]


ACTIONS: dict[str, Callable[[Pbx, Action], list[Headers]]] = {
    "redirect": redirect,
    "hangup": hangup,
    "setvar": setvar,
    "extensionstate": extension_state,
    "extensionstatelist": extension_state_list,
}
