"""`cdr1c live` against the real Asterisk 22 streams of the capture, replayed byte for byte.

tests/fixtures/asterisk22-live-scenarios/README.md says per scenario which channel is the
caller, which the phone leg, and what a correct action does; the `truth.json` files hold the
ids. Phones there are `Local/10x@phones`, so that is the channel template here.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from etl.ami.calls import CallConflict, NoSuchCall
from etl.ami.routing import SmartRouter
from etl.ami.screenpop import ScreenPop
from etl.api.hub import Subscription
from etl.config import parse_settings
from etl.phones import PhoneNormaliser
from etl.sandbox.ami import TOKEN, LiveStack, run
from tests.live_replay import Replay, Scenario, where
from tests.test_api import until

AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALLER = "79161234567"
CLIENT = "ООО Ромашка"


@dataclass
class Live:
    stack: LiveStack
    replay: Replay
    scenario: Scenario
    http: aiohttp.ClientSession
    sub: Subscription

    @property
    def truth(self) -> dict[str, Any]:
        return self.scenario.truth

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Every screen-pop event published so far (taken off the subscription's queue)."""
        while not self.sub.queue.empty():
            self._got.append(self.sub.queue.get_nowait())
        return [e for e in self._got if kind is None or e["type"] == kind]

    def __post_init__(self) -> None:
        self._got: list[dict[str, Any]] = []

    async def intercept(self, call_id: str, to: str, mode: str = "redirect") -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            f"/v1/calls/{call_id}/intercept", headers=AUTH, json={"to": to, "mode": mode}
        ) as r:
            return r.status, await r.json()


def live(name: str, test: Callable[[Live], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        sc = Scenario.load(name)
        stack = LiveStack(
            channel="Local/{ext}@phones",
            intercept_context="from-internal",
            managers={f"+{CALLER}": f"102; {CLIENT}"},
            **kw,
        )
        # Every scenario starts with the phones idle (hints Custom:10x, README).
        stack.double.extensions = {e: (0, f"Custom:{e}") for e in ("101", "102", "103")}
        replay = Replay(stack.double, sc)
        async with stack, aiohttp.ClientSession(stack.url) as http:
            replay.watch(stack.client)
            await test(Live(stack, replay, sc, http, stack.hub.subscribe()))

    run(main())


# --- issue 14 item 1: the caller's leg, apart from the phone's ------------------------------


def test_ringing_events_carry_the_call_and_the_callers_leg_apart_from_the_phones() -> None:
    async def t(lv: Live) -> None:
        await lv.replay.until(where("DialBegin", DestChannel=lv.truth["queue_member_legs"][1]["channel"]))
        await lv.replay.delivered()
        caller = lv.truth["caller_leg"]
        ringing = lv.events("ringing")
        assert [(e["extension"], e["uniqueid"], e["channel"]) for e in ringing] == [
            ("101", *(lv.truth["queue_member_legs"][0][k] for k in ("uniqueid", "channel"))),
            ("103", *(lv.truth["queue_member_legs"][1][k] for k in ("uniqueid", "channel"))),
        ]
        for e in ringing:
            assert e["linkedid"] == lv.truth["linkedid"]
            assert (e["caller_uniqueid"], e["caller_channel"]) == (caller["uniqueid"], caller["channel"])
            assert (e["caller"], e["client"]) == (f"+{CALLER}", CLIENT)

    live("queue_wait_intercept_redirect", t)


def test_intercept_with_the_events_linkedid_redirects_the_caller_out_of_the_queue() -> None:
    async def t(lv: Live) -> None:
        await lv.replay.until("QueueCallerJoin")
        await lv.replay.until(where("DialBegin", DestChannel=lv.truth["queue_member_legs"][1]["channel"]))
        await lv.replay.delivered()
        linkedid = lv.events("ringing")[0]["linkedid"]
        status, body = await lv.intercept(linkedid, "102")
        assert status == 200, body
        assert (body["channel"], body["linkedid"]) == (lv.truth["caller_leg"]["channel"], linkedid)
        (redirect,) = lv.stack.double.actions_named("Redirect")
        assert dict(redirect)["Channel"] == lv.truth["redirect"]["channel"]  # as the driver did
        assert (dict(redirect)["Context"], dict(redirect)["Exten"]) == ("from-internal", "102")
        await lv.replay.rest()  # what Asterisk did after that Redirect
        await lv.replay.delivered()
        (answered,) = lv.events("answered")
        assert (answered["extension"], answered["caller_channel"]) == (
            "102",
            lv.truth["caller_leg"]["channel"],
        )

    live("queue_wait_intercept_redirect", t)


@pytest.mark.parametrize("given", ["uniqueid", "channel"])
def test_intercept_given_a_ringing_phone_leg_never_moves_that_leg(given: str) -> None:
    async def t(lv: Live) -> None:
        phone = lv.truth["queue_member_legs"][0]  # the leg the recording redirected, wrongly
        await lv.replay.until(where("DialBegin", DestChannel=phone["channel"]))
        await lv.replay.delivered()
        status, body = await lv.intercept(phone[given], "102")
        sent = [dict(a)["Channel"] for a in lv.stack.double.actions_named("Redirect")]
        assert phone["channel"] not in sent
        # Resolved to the caller's leg of the same call (or refused, never the phone).
        assert (status, sent) == (200, [lv.truth["caller_leg"]["channel"]]), body

    live("queue_wait_wrong_leg", t)


def test_intercept_of_a_call_not_on_the_pbx_is_404_and_sends_nothing() -> None:
    async def t(lv: Live) -> None:
        await lv.replay.rest()
        await lv.replay.delivered()
        status, body = await lv.intercept(lv.truth["linkedid"], "102")
        assert status == 404 and "no call" in body["error"]
        assert lv.stack.double.actions_named("Redirect") == []

    live("queue_wait_intercept_redirect", t)


# --- issue 14 item 5: a pickup's outcome is whether the call was picked up -------------------

PICKER_ID = "c1c-live-05"  # the ChannelId of the recorded pickup Originate


async def _pickup_results(lv: Live) -> list[dict[str, Any]]:
    await lv.replay.rest()
    await lv.replay.delivered()
    await until(lambda: bool(lv.events("pickup_result")))
    return lv.events("pickup_result")


def test_pickup_runs_pickupchan_on_the_ringing_leg_and_reports_the_pickup() -> None:
    async def t(lv: Live) -> None:
        ringing = await lv.replay.until(where("DialBegin", Channel=lv.truth["caller_leg"]["channel"]))
        await lv.replay.delivered()
        status, body = await lv.intercept(lv.truth["linkedid"], "102", "pickup")
        assert (status, body["id"]) == (200, PICKER_ID), body
        (originate,) = lv.stack.double.actions_named("Originate")
        assert (dict(originate)["Application"], dict(originate)["Data"]) == (
            "PickupChan",
            ringing.get("DestChannel"),
        )
        (result,) = await _pickup_results(lv)
        assert (result["success"], result["reason"], result["linkedid"]) == (True, "picked up", PICKER_ID)

    live("ringing_pickup_pickupchan", t, call_ids=lambda: PICKER_ID)


def test_pickup_answered_by_the_employee_but_nothing_bridged_is_not_a_success() -> None:
    async def t(lv: Live) -> None:
        await lv.replay.until(where("DialBegin", Channel=lv.truth["caller_leg"]["channel"]))
        await lv.replay.delivered()
        status, _ = await lv.intercept(lv.truth["linkedid"], "102", "pickup")
        assert status == 200
        # The same call where PickupChan found nothing: no Pickup, the caller's Dial not answered
        # by the picker; 102 answered the Originate (Success, reason 4) and hung up.
        assert lv.replay.drop(lambda r: r.event == "Pickup" or r.get("DestUniqueid") == PICKER_ID) >= 2
        (result,) = await _pickup_results(lv)
        assert result["success"] is False and result["reason_code"] == 4

    live("ringing_pickup_pickupchan", t, call_ids=lambda: PICKER_ID)


def test_pickup_of_a_leg_that_no_longer_rings_is_refused_and_nothing_is_originated() -> None:
    async def t(lv: Live) -> None:
        caller = lv.truth["caller_leg"]["channel"]
        ringing = await lv.replay.until(where("DialBegin", Channel=caller))
        await lv.replay.until(where("BridgeEnter", Channel=caller))  # picked up by 102 already
        await lv.replay.delivered()
        status, body = await lv.intercept(lv.truth["linkedid"], "103", "pickup")
        assert status == 409 and "nothing is ringing" in body["error"]
        status, body = await lv.intercept(str(ringing.get("DestUniqueid")), "103", "pickup")
        assert status == 404, body  # that leg hung up (answered elsewhere)
        await lv.replay.rest()
        await lv.replay.delivered()
        status, body = await lv.intercept(lv.truth["linkedid"], "103", "pickup")
        assert status == 404, body
        assert lv.stack.double.actions_named("Originate") == []

    live("ringing_pickup_pickupchan", t)


# --- issue 14 item 6: one hangup event per call and extension --------------------------------


def test_a_local_channel_phone_gives_one_hangup_event_naming_the_caller() -> None:
    async def t(lv: Live) -> None:
        await lv.replay.rest()
        await lv.replay.delivered()
        hangups = [(e["extension"], e["caller"], e["linkedid"]) for e in lv.events("hangup")]
        assert hangups == [("101", f"+{CALLER}", lv.truth["linkedid"])]

    live("inbound_ringing_answered", t)


@pytest.mark.parametrize("name", Scenario.names())
def test_no_hangup_event_comes_from_a_local_far_half_or_names_the_extension_as_caller(name: str) -> None:
    async def t(lv: Live) -> None:
        await lv.replay.rest()
        await lv.replay.delivered()
        for e in lv.events("hangup"):
            assert not e["channel"].endswith(";2") and e["caller"] != e["extension"], e
        per_leg = [e["uniqueid"] for e in lv.events("hangup")]
        assert len(per_leg) == len(set(per_leg))

    live(name, t)


# --- issue 14 item 2: smart routing decides once the number is known, on the IVR channel ----


@pytest.mark.parametrize(
    ("name", "ivr_context"),
    [
        ("ivr_smart_route", "ivr-1"),
        ("ivr_smart_route_localtrunk", "ivr-1"),
        ("ivr_smart_route_noanswer", "ivr-1"),
        # The context the call enters first: a trunk's Newchannel there carries the number; a
        # Local ;1 half's Newchannel and AppDial2 Newexten there say <unknown> (issue 14 item 2).
        ("ivr_smart_route", "from-trunk"),
        ("ivr_smart_route_localtrunk", "from-trunk"),
    ],
)
def test_smart_routing_redirects_the_channel_in_the_ivr_once_per_call(
    name: str, ivr_context: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def t(lv: Live) -> None:
        await lv.replay.until(where("Newexten", Context="ivr-1", Application="WaitExten"))
        await lv.replay.delivered()
        await until(lambda: bool(lv.stack.router.decisions))
        await lv.stack.router.drain()
        redirects = [dict(a) for a in lv.stack.double.actions_named("Redirect")]
        assert [(r["Channel"], r["Context"], r["Exten"]) for r in redirects] == [
            (lv.truth["redirect"]["channel"], "cdr1c-route", "102")
        ]
        await lv.replay.rest()  # noanswer: the caller comes back to the IVR, same call
        await lv.replay.delivered()
        await lv.stack.router.drain()
        (decision,) = lv.stack.router.decisions
        assert (decision.action, decision.caller, decision.client) == ("redirect", CALLER, CLIENT)
        assert decision.linkedid == lv.truth["linkedid"]
        assert len(lv.stack.double.actions_named("Redirect")) == 1

    caplog.set_level(logging.INFO, logger="etl.ami.routing")
    live(name, t, ivr_context=ivr_context, routing_context="cdr1c-route")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "etl.ami.routing"]
    assert CLIENT in line and "→ redirect 102" in line


def test_routing_is_a_dry_run_unless_configured_otherwise() -> None:
    base = {"source": {"url": "sqlite:///x.sqlite"}, "api": {"token": TOKEN}}
    ami = {"host": "127.0.0.1", "user": "cdr1c", "secret": "s3cret-ami-secret", "ivr_context": "ivr-1"}
    settings = parse_settings({**base, "ami": ami})
    assert settings.ami is not None and settings.ami.routing_dry_run is True
    settings = parse_settings({**base, "ami": {**ami, "routing_dry_run": False}})
    assert settings.ami is not None and settings.ami.routing_dry_run is False
    assert inspect.signature(SmartRouter).parameters["dry_run"].default is True


@pytest.mark.parametrize("name", Scenario.names())
def test_at_no_point_of_any_recorded_call_is_a_phones_leg_the_one_to_move(name: str) -> None:
    """Every prefix of every recorded stream, every id a client could hold: never a phone leg."""
    sc = Scenario.load(name)
    pop = ScreenPop("Local/{ext}@phones", PhoneNormaliser("RU", r"^\d{2,6}$"))
    ids: set[str] = set()
    moved: set[str] = set()
    for rec in sc.events:
        pop.translate(rec.message)
        ids.update(v for k in ("Uniqueid", "Linkedid", "Channel", "DestUniqueid") if (v := rec.get(k)))
        for ident in ids:
            with contextlib.suppress(NoSuchCall, CallConflict):
                moved.add(pop.calls.caller_to_move(ident).channel)
    assert not [c for c in moved if "@phones-" in c]
    caller = sc.truth.get("caller_leg", {}).get("channel")
    if caller:  # and where the capture names a caller, that is the one moved
        assert caller in moved
