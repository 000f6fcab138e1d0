"""The live HTTP API over real loopback HTTP, with the AMI double behind it."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate

from etl.api.app import RateLimiter
from etl.api.openapi import openapi_document
from etl.config import parse_settings
from etl.sandbox.ami import TOKEN, WAIT, LiveStack, OriginatePlan, run, until

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def scenario(test: Callable[[LiveStack, aiohttp.ClientSession], Awaitable[None]], **kw: Any) -> None:
    async def main() -> None:
        async with LiveStack(**kw) as stack, aiohttp.ClientSession(stack.url) as http:
            await test(stack, http)

    run(main())


async def ringing_call(stack: LiveStack, linkedid: str = "c1c-0001") -> None:
    """A trunk call ringing PJSIP/101, as AMI shows it (the caller's leg opens the call)."""
    trunk = [("Channel", "PJSIP/trunk-00000001"), ("Uniqueid", linkedid), ("Linkedid", linkedid)]
    phone = [("Channel", "PJSIP/101-00000002"), ("Uniqueid", "U2"), ("Linkedid", linkedid)]
    await stack.double.emit([("Event", "Newchannel"), *trunk, ("CallerIDNum", "79161234567")])
    await stack.double.emit([("Event", "Newchannel"), *phone])
    await stack.double.emit(
        [
            ("Event", "DialBegin"),
            *trunk,
            ("DestChannel", "PJSIP/101-00000002"),
            ("DestUniqueid", "U2"),
            ("DestLinkedid", linkedid),
        ]
    )
    await until(lambda: stack.pop.calls.caller_leg(linkedid) is not None)


def _example_request(path: str, method: str) -> tuple[str, dict[str, Any] | None]:
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("/v1/calls", "post"): {"from": "101", "to": "+79161234567"},
        ("/v1/calls/{id}/intercept", "post"): {"to": "102"},
        ("/v1/spy", "post"): {"supervisor": "103", "target": "101", "mode": "whisper"},
        ("/v1/backfill", "post"): {"since": "2026-11-01", "until": "2026-11-02"},
    }
    concrete = path.replace("{id}", "c1c-0001").replace("{ext}", "101")
    return concrete, bodies.get((path, method))


def test_openapi_document_validates_and_lists_the_contract_paths() -> None:
    doc = openapi_document()
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    assert {(p, m) for p, ops in doc["paths"].items() for m in ops} >= {
        ("/v1/calls", "post"),
        ("/v1/calls/{id}/intercept", "post"),
        ("/v1/spy", "post"),
        ("/v1/calls/{id}", "delete"),
        ("/v1/extensions", "get"),
        ("/v1/events", "get"),
        ("/v1/backfill", "post"),
        ("/v1/jobs/{id}", "get"),
        ("/health", "get"),
    }


def test_every_documented_operation_answers_as_documented() -> None:
    doc = openapi_document()

    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        job_id = None
        await ringing_call(stack)
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                url, body = _example_request(path, method)
                if path == "/v1/jobs/{id}":
                    url = f"/v1/jobs/{job_id}"
                if path == "/v1/events":
                    async with http.get(url, headers=AUTH, params={"extension": "101"}) as r:
                        assert r.status == 200 and r.content_type == "text/event-stream"
                        assert await r.content.readline() == b": connected\n"
                    continue
                async with http.request(method, url, headers=AUTH, json=body) as r:
                    assert str(r.status) in op["responses"], (
                        path,
                        method,
                        r.status,
                        await r.text(),
                    )
                    assert r.status < 300, (path, method, await r.text())
                    data = await r.json()
                    if path == "/v1/backfill":
                        job_id = data["id"]
                # and without a token: 401, except /health
                async with http.request(method, url, json=body) as r:
                    assert r.status == (200 if path == "/health" else 401), (path, method)

    scenario(t, backfill=lambda since, until: 0)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong-token-0123456789",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        "Bearer",
        f"bearer  {TOKEN[:-1]}",
    ],
)
def test_missing_or_wrong_token_is_401_and_nothing_reaches_ami(header: str | None) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        headers = {"Authorization": header} if header else {}
        async with http.post("/v1/calls", json={"from": "101", "to": "+79161234567"}, headers=headers) as r:
            assert r.status == 401
        assert stack.double.actions_named("Originate") == []

    scenario(t)


def test_default_listen_address_is_loopback() -> None:
    settings = parse_settings({"source": {"url": "sqlite:///x.sqlite"}, "api": {"token": TOKEN}})
    assert settings.api is not None and settings.api.host == "127.0.0.1"


def test_click_to_call_originates_with_settings_only_and_reports_the_outcome() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        sub = stack.hub.subscribe("101")
        async with http.post(
            "/v1/calls",
            headers=AUTH,
            json={
                "from": "101",
                "to": "+7 916 123-45-67",
                "variables": {"X": "1"},
                "context": "evil",
            },
        ) as r:
            assert r.status == 201
            call_id = (await r.json())["id"]
        assert len(call_id) <= 32
        sent = dict(stack.double.actions_named("Originate")[0])
        assert sent["Channel"] == "PJSIP/101" and sent["Context"] == "from-internal"
        assert sent["Exten"] == "89161234567"  # in the default dial_format, 8{national}
        assert sent["ChannelId"] == call_id and sent["Async"] == "true"
        assert "Variable" not in sent
        event = await asyncio.wait_for(sub.get(), WAIT)
        assert (event["type"], event["linkedid"], event["success"]) == (
            "originate_result",
            call_id,
            True,
        )

    scenario(t)


@pytest.mark.parametrize(
    "body",
    [
        {"from": "101", "to": "123\r\nAction: Command"},
        {"from": "101", "to": "500&PJSIP/itsp/14165551212"},
        {"from": "101\n", "to": "+79161234567"},
        {"from": "../101", "to": "1"},
        {"from": "101", "to": "1" * 21},
        {"from": "١٠١", "to": "+79161234567"},
        {"from": "101"},
        {"from": 101, "to": "+79161234567"},
    ],
)
def test_invalid_originate_input_is_422_and_never_reaches_ami(body: dict[str, Any]) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        async with http.post("/v1/calls", headers=AUTH, json=body) as r:
            assert r.status == 422, await r.text()
            assert "error" in await r.json()
        assert stack.double.actions_named("Originate") == []

    scenario(t)


def test_malformed_json_is_400() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        for data in (b"{not json", b"[1, 2]"):
            async with http.post(
                "/v1/calls", headers={**AUTH, "Content-Type": "application/json"}, data=data
            ) as r:
                assert r.status == 400

    scenario(t)


def test_originate_rate_limit_per_token() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        codes = []
        for _ in range(3):
            async with http.post("/v1/calls", headers=AUTH, json={"from": "101", "to": "+79161234567"}) as r:
                codes.append(r.status)
                retry = r.headers.get("Retry-After")
        assert codes == [201, 201, 429] and retry is not None and int(retry) >= 1
        assert len(stack.double.actions_named("Originate")) == 2

    scenario(t, rate="2/m")


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter("2/s", clock=lambda: now[0])
    assert [limiter.take("a"), limiter.take("a")] == [0, 0] and limiter.take("a") > 0
    assert limiter.take("b") == 0  # per token
    now[0] = 0.5
    assert limiter.take("a") == 0


def test_intercept_redirects_the_callers_leg_and_picks_up_the_ringing_phone() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        await ringing_call(stack, "L1")
        async with http.post("/v1/calls/L1/intercept", headers=AUTH, json={"to": "102"}) as r:
            assert r.status == 200
            assert await r.json() == {
                "id": "L1",
                "status": "redirected",
                "mode": "redirect",
                "linkedid": "L1",
                "channel": "PJSIP/trunk-00000001",
                "uniqueid": "L1",
            }
        redirect = dict(stack.double.actions_named("Redirect")[0])
        assert (
            redirect["Channel"],
            redirect["Context"],
            redirect["Exten"],
            redirect["Priority"],
        ) == ("PJSIP/trunk-00000001", "from-internal-xfer", "102", "1")
        async with http.post(
            "/v1/calls/L1/intercept", headers=AUTH, json={"to": "102", "mode": "pickup"}
        ) as r:
            assert r.status == 200
        pickup = dict(stack.double.actions_named("Originate")[0])
        assert (pickup["Channel"], pickup["Application"], pickup["Data"]) == (
            "PJSIP/102",
            "PickupChan",
            "PJSIP/101-00000002",  # the ringing phone leg, not the call id
        )
        stack.double.channels = set()
        async with http.post(
            "/v1/calls/PJSIP/trunk-00000001/intercept", headers=AUTH, json={"to": "102"}
        ) as r:
            assert r.status == 502 and "Channel does not exist" in (await r.json())["error"]
        async with http.post("/v1/calls/c1c-gone/intercept", headers=AUTH, json={"to": "102"}) as r:
            assert r.status == 404
        assert len(stack.double.actions_named("Redirect")) == 2

    scenario(t)


def test_a_pickup_whose_phone_does_not_answer_reports_the_originate_outcome() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        await ringing_call(stack, "L1")
        stack.double.originate_plans["PJSIP/102"] = OriginatePlan("Failure", 5)
        sub = stack.hub.subscribe()
        async with http.post(
            "/v1/calls/L1/intercept", headers=AUTH, json={"to": "102", "mode": "pickup"}
        ) as r:
            assert r.status == 200
        event = await asyncio.wait_for(sub.get(), WAIT)
        assert (event["type"], event["success"], event["reason"]) == ("pickup_result", False, "busy")
        assert stack.pop.calls.watched_pickups == 0  # nothing left waiting for a Pickup event

    scenario(t)


@pytest.mark.parametrize(
    ("mode", "data"),
    [("listen", "PJSIP/101-,qE"), ("whisper", "PJSIP/101-,qEw"), ("barge", "PJSIP/101-,qEB")],
)
def test_spy_modes(mode: str, data: str) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        async with http.post(
            "/v1/spy", headers=AUTH, json={"supervisor": "103", "target": "101", "mode": mode}
        ) as r:
            assert r.status == 201
        sent = dict(stack.double.actions_named("Originate")[0])
        assert (sent["Channel"], sent["Application"], sent["Data"]) == (
            "PJSIP/103",
            "ChanSpy",
            data,
        )
        async with http.post(
            "/v1/spy",
            headers=AUTH,
            json={"supervisor": "103", "target": "101", "mode": "spy-and-record"},
        ) as r:
            assert r.status == 422

    scenario(t)


def test_hangup_and_regex_channel_refused() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        async with http.delete("/v1/calls/c1c-0001", headers=AUTH) as r:
            assert r.status == 200
        assert dict(stack.double.actions_named("Hangup")[0])["Channel"] == "c1c-0001"
        async with http.delete("/v1/calls/%2F.%2A%2F", headers=AUTH) as r:  # "/.*/" would hang up everyone
            assert r.status in (404, 422)
        assert len(stack.double.actions_named("Hangup")) == 1

    scenario(t)


def test_extensions_are_resynced_and_follow_events() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        async with http.get("/v1/extensions", headers=AUTH) as r:
            assert (await r.json())["extensions"] == []
        stack.double.extensions = {"101": (0, "PJSIP/101"), "102": (1, "PJSIP/102")}
        await stack.double.restart()  # reconnect → ExtensionStateList again
        await until(lambda: stack.states.get("102") is not None)
        await stack.double.set_extension("101", 8)
        await until(lambda: stack.states.get("101").status == 8)  # type: ignore[union-attr]
        async with http.get("/v1/extensions", headers=AUTH) as r:
            got = {e["exten"]: e["status_text"] for e in (await r.json())["extensions"]}
        assert got == {"101": "Ringing", "102": "InUse"}

    scenario(t)


def test_sse_screen_pop_ringing_answered_hangup_for_one_extension() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        async with http.get("/v1/events", headers=AUTH, params={"extension": "101"}) as r:
            assert await r.content.readline() == b": connected\n"
            await r.content.readline()
            base = [
                ("Channel", "PJSIP/trunk-0000001"),
                ("CallerIDNum", "89161234567"),
                ("Linkedid", "L1"),
                ("Uniqueid", "U1"),
            ]
            await until(lambda: bool(stack.hub.subscribers))
            for ext in ("102", "101"):  # 102 must not reach this subscriber
                await stack.double.emit(
                    [
                        ("Event", "DialBegin"),
                        *base,
                        ("DestChannel", f"PJSIP/{ext}-00000002"),
                        ("DestLinkedid", "L1"),
                        ("DestUniqueid", "U2"),
                    ]
                )
            await stack.double.emit(
                [
                    ("Event", "DialEnd"),
                    *base,
                    ("DestChannel", "PJSIP/101-00000002"),
                    ("DestLinkedid", "L1"),
                    ("DialStatus", "ANSWER"),
                ]
            )
            await stack.double.emit(
                [
                    ("Event", "Hangup"),
                    ("Channel", "PJSIP/101-00000002"),
                    ("ConnectedLineNum", "89161234567"),
                    ("Linkedid", "L1"),
                    ("Uniqueid", "U2"),
                ]
            )
            events = []
            while len(events) < 3:
                line = await asyncio.wait_for(r.content.readline(), WAIT)
                if line.startswith(b"data: "):
                    events.append(json.loads(line[6:]))
        assert [e["type"] for e in events] == ["ringing", "answered", "hangup"]
        assert {e["extension"] for e in events} == {"101"}
        assert events[0]["caller"] == "+79161234567" and events[0]["client"] == "ООО Ромашка"
        assert events[0]["linkedid"] == "L1"

    scenario(t, managers={"+79161234567": "101; ООО Ромашка"})


def test_slow_sse_subscriber_drops_its_oldest_events_not_others() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        slow, fast = stack.hub.subscribe(), stack.hub.subscribe()
        for i in range(stack.hub.maxsize + 5):
            stack.hub.publish({"type": "ringing", "extension": "101", "n": i})
            if i % 2 == 0:
                while not fast.queue.empty():
                    fast.queue.get_nowait()
        assert slow.dropped == 5 and fast.dropped == 0
        assert (await slow.get())["n"] == 5

    scenario(t)


def test_backfill_runs_in_the_background_and_is_followed_by_id() -> None:
    calls: list[tuple[date, date]] = []
    gate = threading.Event()

    def runner(since: date, until: date) -> int:
        calls.append((since, until))
        gate.wait(WAIT)
        return 0 if since.day == 1 else 5

    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        async with http.post(
            "/v1/backfill", headers=AUTH, json={"since": "2026-11-01", "until": "2026-11-03"}
        ) as r:
            assert r.status == 202
            job = await r.json()
        async with http.get(f"/v1/jobs/{job['id']}", headers=AUTH) as r:
            assert (await r.json())["status"] in ("queued", "running")
        gate.set()
        await until(lambda: stack.jobs.get(job["id"]).status == "done")  # type: ignore[union-attr]
        async with http.get(f"/v1/jobs/{job['id']}", headers=AUTH) as r:
            assert (await r.json())["exit_code"] == 0
        assert calls == [(date(2026, 11, 1), date(2026, 11, 3))]
        async with http.post(
            "/v1/backfill", headers=AUTH, json={"since": "2026-11-02", "until": "2026-11-03"}
        ) as r:
            second = (await r.json())["id"]
        await until(lambda: stack.jobs.get(second).status == "failed")  # type: ignore[union-attr]
        for bad in (
            {"since": "yesterday", "until": "2026-11-03"},
            {"since": "2026-11-05", "until": "2026-11-03"},
        ):
            async with http.post("/v1/backfill", headers=AUTH, json=bad) as r:
                assert r.status == 422
        async with http.get("/v1/jobs/nope", headers=AUTH) as r:
            assert r.status == 404

    scenario(t, backfill=runner)


def test_ami_down_gives_503_and_degraded_health() -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession) -> None:
        await stack.double.stop()
        await until(lambda: not stack.client.connected)
        async with http.post("/v1/calls", headers=AUTH, json={"from": "101", "to": "+79161234567"}) as r:
            assert r.status == 503
        async with http.get("/health") as r:
            assert (await r.json())["status"] == "degraded"

    scenario(t)


def test_live_job_serves_on_the_configured_loopback_address(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from etl.sandbox.ami import AmiDouble

    with socket.socket() as s:  # an ephemeral port, released just before the job binds it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        from jobs.live import _serve

        double = AmiDouble()
        await double.start()
        settings = parse_settings(
            {
                "source": {"url": "sqlite:///x.sqlite"},
                "state": {"url": f"sqlite:///{tmp_path / 'ledger.sqlite'}"},  # not the default, in cwd
                "ami": {"port": double.port, "user": "cdr1c", "secret": "s3cret-ami-secret"},
                "api": {"token": TOKEN, "listen": f"127.0.0.1:{port}"},
            }
        )
        task = asyncio.create_task(_serve(settings))
        try:
            async with aiohttp.ClientSession() as http:
                await until(lambda: bool(double.actions_named("ExtensionStateList")))  # resync after login
                async with http.get(f"http://127.0.0.1:{port}/health") as r:
                    assert (await r.json())["ami"]["connected"]
                async with http.get(
                    f"http://127.0.0.1:{port}/v1/extensions",
                    headers={"Authorization": "Bearer wrong"},
                ) as r:
                    assert r.status == 401
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await double.stop()

    with caplog.at_level(logging.DEBUG):
        run(main())
    assert TOKEN not in caplog.text and "s3cret-ami-secret" not in caplog.text
