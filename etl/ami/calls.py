"""Which channel of a call is the caller's and which are phones', as Asterisk shows it.

Built from the real Asterisk 22 capture (tests/fixtures/asterisk22-live-scenarios/README.md,
"Key facts"): a call is its `Linkedid`; the caller's leg is the channel a `QueueCallerJoin` or
a `DialBegin` names as `Channel`, or else the channel whose `Uniqueid` is the `Linkedid` (the
trunk channel, whose `Newchannel` opens the call). A phone's leg is an extension's channel
(`channel` template, both halves of a Local phone) or a Dial destination (`DialBegin
DestChannel`, `AgentCalled DestinationChannel`): those are never the caller's, whatever their ids.

Linkedids are not immutable (a pickup moves the picker's leg into the caller's call), so every
event that names a leg updates its linkedid. A leg is forgotten at its `Hangup`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from etl.ami.protocol import Message
from etl.errors import OperationRefused


class NoSuchCall(OperationRefused):
    """The id names no channel and no call cdr1c sees on AMI (HTTP 404)."""


class CallConflict(OperationRefused):
    """The call exists but is not in a state the operation needs (HTTP 409)."""


@dataclass
class Leg:
    uniqueid: str
    channel: str
    linkedid: str
    phone: bool = False  # an extension's channel or a Dial destination
    caller: bool = False  # named as the dialling / queued channel
    ringing: bool = False  # a Dial destination not yet answered or ended

    def as_json(self) -> dict[str, str]:
        return {"uniqueid": self.uniqueid, "channel": self.channel}


class Calls:
    """Feed it every AMI event (`apply`); ask it for a call's caller leg or ringing phones."""

    def __init__(self, is_phone_channel: Callable[[str], bool], limit: int = 20_000) -> None:
        self._is_phone = is_phone_channel
        self._limit = limit
        self._legs: dict[str, Leg] = {}  # uniqueid → leg, in order of appearance
        self._pickups: dict[str, asyncio.Future[bool]] = {}  # picker uniqueid → picked up?
        self._dialled: dict[str, str] = {}  # cdr1c's click-to-call id → the number it dials

    # --- feeding ---------------------------------------------------------------------------

    def apply(self, msg: Message) -> None:
        name = msg.event
        uid = msg.get("Uniqueid") or ""
        if name == "Newchannel" and uid:
            chan = msg.get("Channel") or ""
            self._legs[uid] = Leg(uid, chan, msg.get("Linkedid") or uid, phone=self._is_phone(chan))
            if len(self._legs) > self._limit:  # hangups missed while disconnected
                del self._legs[next(iter(self._legs))]
            return
        leg = self._legs.get(uid)
        if leg is not None:
            leg.linkedid = msg.get("Linkedid") or leg.linkedid
            if name == "Rename":
                leg.channel = msg.get("Newname") or leg.channel
        dest = self._legs.get(msg.get("DestUniqueid") or "")
        if name in ("DialBegin", "AgentCalled") and dest is not None:
            dest.phone = dest.ringing = True
            if leg is not None and not leg.phone:
                leg.caller = True
        elif name == "QueueCallerJoin" and leg is not None:
            leg.caller = True
        elif name == "DialEnd" and dest is not None:
            dest.ringing = False
            if (msg.get("DialStatus") or "").upper() == "ANSWER" and leg is not None:
                self._settle(dest.uniqueid, True)  # the caller's Dial names the picker
        elif name == "Pickup":
            self._settle(uid, True)
        elif name == "Hangup":
            self._settle(uid, False)
            self._legs.pop(uid, None)
            self._dialled.pop(uid, None)  # the originated phone leg: its uniqueid is the id

    def reset(self) -> None:
        """After a reconnect: hangups may have been missed, and pickups cannot be judged."""
        self._legs.clear()
        for uid in list(self._pickups):
            self._settle(uid, False)

    def originated(self, call_id: str, number: str) -> None:
        """cdr1c's click-to-call `call_id` (its ChannelId) dials `number`: the phone's events of
        that call show the number, which Asterisk's events do not carry (the Originate itself
        dials the phone: no calling channel, docs/live.md)."""
        self._dialled[call_id] = number
        if len(self._dialled) > self._limit:  # originates that never made a channel
            del self._dialled[next(iter(self._dialled))]

    # --- asking ----------------------------------------------------------------------------

    def dialled(self, linkedid: str) -> str | None:
        """The number cdr1c's click-to-call `linkedid` dials, if it is one."""
        return self._dialled.get(linkedid)

    def leg(self, ident: str) -> Leg | None:
        """The leg with this uniqueid or channel name."""
        found = self._legs.get(ident)
        if found is None:
            found = next((x for x in self._legs.values() if x.channel == ident), None)
        return found

    def caller_leg(self, linkedid: str) -> Leg | None:
        """The caller's channel in the call `linkedid`, or None (no caller leg known)."""
        legs = [x for x in self._legs.values() if x.linkedid == linkedid and not x.phone]
        best = next((x for x in legs if x.caller), None) or next(
            (x for x in legs if x.uniqueid == linkedid), None
        )
        if best is not None and best.channel.startswith("Local/") and best.channel.endswith(";1"):
            # An originated Local "trunk": its ;2 half is the one running the dialplan.
            half = best.channel[:-1] + "2"
            best = next((x for x in legs if x.channel == half), best)
        return best

    def call_of(self, ident: str) -> str:
        """The linkedid for a linkedid, a uniqueid or a channel name; `NoSuchCall` if unknown."""
        leg = self.leg(ident)
        if leg is not None:
            return leg.linkedid
        if any(x.linkedid == ident for x in self._legs.values()):
            return ident
        raise NoSuchCall(f"no call {ident!r} on the PBX (ended, or never seen by cdr1c)")

    def caller_to_move(self, ident: str) -> Leg:
        """The caller's leg of the call `ident` names; never a phone's leg."""
        call = self.call_of(ident)
        leg = self.caller_leg(call)
        if leg is None:
            raise CallConflict(f"call {call}: no caller leg to move (an internal or outgoing call)")
        return leg

    def ringing(self, ident: str) -> list[Leg]:
        """The phone legs of the call `ident` names that ring now; `CallConflict` if none."""
        call = self.call_of(ident)
        legs = [x for x in self._legs.values() if x.linkedid == call and x.ringing]
        if not legs:
            raise CallConflict(f"call {call}: nothing is ringing to pick up")
        return legs

    def watch_pickup(self, picker_uniqueid: str) -> asyncio.Future[bool]:
        """Resolves True when this leg picked a call up, False when it hung up without."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pickups[picker_uniqueid] = fut
        fut.add_done_callback(lambda f: self._pickups.pop(picker_uniqueid, None) if f.cancelled() else None)
        return fut

    @property
    def watched_pickups(self) -> int:
        return len(self._pickups)

    def _settle(self, uniqueid: str, picked: bool) -> None:
        fut = self._pickups.pop(uniqueid, None)
        if fut is not None and not fut.done():
            fut.set_result(picked)
