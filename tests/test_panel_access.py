"""Per-employee access (etl/api/access.py) and the long-poll endpoint, over real loopback HTTP
with the AMI double behind the API: a manager acts only for their own extension, a supervisor
may also spy, the [api] token stays the administrator's; tokens are stored hashed."""

from __future__ import annotations

import asyncio
import json
import stat
import string
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.api.access import COOKIE, CSRF_HEADER, Access, TokenFile, hash_token
from etl.sandbox.ami import TOKEN, LiveStack, run, until

ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the token file ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ext=st.text(string.digits, min_size=2, max_size=6),
    name=st.text(max_size=30),
    other=st.text(max_size=80),
)
def test_a_token_is_found_by_itself_only_and_stored_only_hashed(
    tmp_path: Path, ext: str, name: str, other: str
) -> None:
    path = tmp_path / f"t{time.monotonic_ns()}.json"
    tokens = TokenFile(path)
    rec, token = tokens.add(ext, "manager", name)
    raw = path.read_text(encoding="utf-8")
    assert token not in raw and hash_token(token) in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens.find(token) == rec
    assert TokenFile(path).find(token) == rec  # another process reads the same
    if other != token:
        assert tokens.find(other) is None
        assert tokens.find(token[:-1]) is None
    access = Access(TOKEN, tokens)
    p = access.bearer(token)
    assert p is not None and (p.role, p.extension) == ("manager", ext)
    assert access.bearer(other if other != token else "") is None or other == TOKEN


def test_revoking_ends_the_token_its_codes_and_its_sessions(tmp_path: Path) -> None:
    tokens = TokenFile(tmp_path / "t.json")
    rec, token = tokens.add("101", "manager")
    keep, _ = tokens.add("102", "supervisor")
    access = Access(TOKEN, tokens)
    p = access.bearer(token)
    assert p is not None
    sid = access.new_session(p)
    code = access.new_code(p)
    assert access.session(sid) == p
    assert [r.id for r in tokens.revoke("101")] == [rec.id]
    assert access.bearer(token) is None and access.session(sid) is None and access.redeem(code) is None
    assert [r.id for r in tokens.records()] == [keep.id]


def test_a_one_time_code_works_once() -> None:
    access = Access(TOKEN)
    admin = access.bearer(TOKEN)
    assert admin is not None and admin.admin
    code = access.new_code(admin)
    sid = access.redeem(code)
    assert sid is not None and access.session(sid) == admin
    assert access.redeem(code) is None
    assert access.redeem("") is None and access.session("nope") is None


# --- enforcement in every route ---------------------------------------------------------------


def scenario(
    tmp_path: Path, test: Callable[[LiveStack, aiohttp.ClientSession, dict[str, str]], Awaitable[None]]
) -> None:
    tokens = TokenFile(tmp_path / "tokens.json")
    made = {
        "manager": tokens.add("101", "manager", "Иван")[1],
        "supervisor": tokens.add("103", "supervisor", "Ольга")[1],
    }

    async def main() -> None:
        async with LiveStack(access=Access(TOKEN, tokens)) as stack, aiohttp.ClientSession(stack.url) as http:
            await test(stack, http, made)

    run(main())


async def status(http: aiohttp.ClientSession, method: str, path: str, headers: Any, body: Any = None) -> int:
    async with http.request(method, path, headers=headers, json=body) as r:
        await r.read()
        return r.status


def test_a_manager_originates_only_from_their_own_extension_and_never_spies(tmp_path: Path) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession, tok: dict[str, str]) -> None:
        man = bearer(tok["manager"])
        before = len(stack.double.actions)
        assert await status(http, "POST", "/v1/calls", man, {"from": "102", "to": "+79161234567"}) == 403
        spy = {"supervisor": "101", "target": "102", "mode": "listen"}
        assert await status(http, "POST", "/v1/spy", man, spy) == 403
        assert await status(http, "POST", "/v1/calls/x/intercept", man, {"to": "102"}) == 403
        assert await status(http, "DELETE", "/v1/calls/x", man) == 403
        days = {"since": "2026-11-01", "until": "2026-11-01"}
        assert await status(http, "POST", "/v1/backfill", man, days) == 403
        assert await status(http, "GET", "/v1/events?extension=102", man) == 403
        assert await status(http, "GET", "/v1/events/poll?extension=102&wait=0", man) == 403
        assert len(stack.double.actions) == before, "a refused request sent nothing to Asterisk"
        assert await status(http, "POST", "/v1/calls", man, {"from": "101", "to": "+79161234567"}) == 201
        assert await status(http, "GET", "/v1/extensions", man) == 200
        assert await status(http, "POST", "/v1/calls", bearer("c1t_wrong"), {"from": "101", "to": "1"}) == 401

    scenario(tmp_path, t)


def test_a_supervisor_spies_from_their_own_extension_and_the_admin_token_does_everything(
    tmp_path: Path,
) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession, tok: dict[str, str]) -> None:
        sup = bearer(tok["supervisor"])
        spy = {"supervisor": "103", "target": "101", "mode": "whisper"}
        assert await status(http, "POST", "/v1/spy", sup, spy) == 201
        assert await status(http, "POST", "/v1/spy", sup, {**spy, "supervisor": "102"}) == 403
        assert await status(http, "POST", "/v1/calls", sup, {"from": "101", "to": "+79161234567"}) == 403
        assert await status(http, "POST", "/v1/spy", ADMIN, {**spy, "supervisor": "102"}) == 201
        assert await status(http, "POST", "/v1/calls", ADMIN, {"from": "102", "to": "+79161234567"}) == 201
        async with http.get("/v1/me", headers=sup) as r:
            me = await r.json()
        assert (me["role"], me["extension"], me["name"]) == ("supervisor", "103", "Ольга")

    scenario(tmp_path, t)


def test_the_panel_signs_in_by_a_one_time_code_into_an_httponly_cookie_that_needs_the_header(
    tmp_path: Path,
) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession, tok: dict[str, str]) -> None:
        async with http.post("/v1/panel/links", headers=bearer(tok["manager"])) as r:
            assert r.status == 201
            link = await r.json()
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies of an IP address (127.0.0.1)
        async with aiohttp.ClientSession(stack.url, cookie_jar=jar) as browser:
            async with browser.get(link["url"], allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/panel"
                cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and tok["manager"] not in cookie
            async with browser.get(link["url"], allow_redirects=False) as r:
                assert r.status == 403, "a code works once"
            call = {"from": "101", "to": "+79161234567"}
            assert await status(browser, "GET", "/v1/me", None) == 200
            assert await status(browser, "POST", "/v1/calls", None, call) == 403  # no CSRF header
            assert await status(browser, "POST", "/v1/calls", {CSRF_HEADER: "1"}, call) == 201
            other_ext = {**call, "from": "102"}
            assert await status(browser, "POST", "/v1/calls", {CSRF_HEADER: "1"}, other_ext) == 403
        async with aiohttp.ClientSession(stack.url) as other:
            other.cookie_jar.update_cookies({COOKIE: "forged"})
            assert await status(other, "GET", "/v1/me", None) == 401

    scenario(tmp_path, t)


# --- long-poll ----------------------------------------------------------------------------------


def test_long_poll_returns_events_after_the_cursor_or_waits_for_the_next(tmp_path: Path) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession, tok: dict[str, str]) -> None:
        man = bearer(tok["manager"])
        stack.hub.publish({"type": "ringing", "extension": "101", "caller": "+79161234567"})
        stack.hub.publish({"type": "ringing", "extension": "102", "caller": "+79161234568"})
        async with http.get("/v1/events/poll?after=0&wait=0", headers=man) as r:
            got = await r.json()
        pops = [e["extension"] for e in got["events"] if e["type"] == "ringing"]
        assert pops == ["101"], "a manager sees their own (and every line and queue change)"
        async with http.get("/v1/events/poll?after=0&wait=0", headers=ADMIN) as r:
            events = (await r.json())["events"]
            assert [e["extension"] for e in events if e["type"] == "ringing"] == ["101", "102"]
        cursor = got["cursor"]

        async def later() -> None:
            await until(lambda: stack.hub._changed._waiters)  # the poll waits now
            stack.hub.publish({"type": "hangup", "extension": "101", "caller": "+79161234567"})

        started = time.monotonic()
        task = asyncio.create_task(later())
        async with http.get(f"/v1/events/poll?after={cursor}&wait=20", headers=man) as r:
            nxt = await r.json()
        await task
        assert [e["type"] for e in nxt["events"]] == ["hangup"] and time.monotonic() - started < 10
        assert nxt["cursor"] > cursor
        async with http.get(f"/v1/events/poll?after={nxt['cursor']}&wait=0.2", headers=man) as r:
            assert (await r.json())["events"] == []
        assert await status(http, "GET", "/v1/events/poll?after=x", man) == 422
        async with http.get("/v1/events/poll?wait=100000&after=0", headers=ADMIN) as r:
            assert r.status == 200 and json.loads(await r.text())["events"]  # capped, answered at once

    scenario(tmp_path, t)


def test_a_session_survives_a_restart_and_ends_on_revoke_sign_out_or_a_new_admin_token(
    tmp_path: Path,
) -> None:
    tokens = TokenFile(tmp_path / "t.json")
    _, token = tokens.add("101", "manager")
    before = Access(TOKEN, tokens)
    p = before.bearer(token)
    assert p is not None
    sid = before.new_session(p)
    assert token not in sid
    after = Access(TOKEN, TokenFile(tmp_path / "t.json"))  # cdr1c live restarted
    assert after.session(sid) == p
    assert Access(TOKEN + "-rotated", tokens).session(sid) is None
    token_id, expiry, mac = sid.split(".")
    assert after.session(f"{token_id}.{int(expiry) + 3600}.{mac}") is None, "a longer life is forged"
    assert after.session(f"admin.{expiry}.{mac}") is None, "another principal is forged"
    after.end_session(sid)
    assert after.session(sid) is None and before.session(sid) == p  # sign-out is per process


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_no_made_up_cookie_is_a_session(cookie: str) -> None:
    access = Access(TOKEN)
    assert access.session(cookie) is None
    assert access.redeem(cookie) is None


def test_a_token_typed_into_the_sign_in_form_gives_a_session_and_a_wrong_one_does_not(tmp_path: Path) -> None:
    async def t(stack: LiveStack, http: aiohttp.ClientSession, tok: dict[str, str]) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(stack.url, cookie_jar=jar) as browser:
            async with browser.post("/panel/login", data={"token": "c1t_wrong"}, allow_redirects=False) as r:
                assert r.status == 403 and "text/html" in r.content_type and COOKIE not in r.cookies
            assert await status(browser, "GET", "/v1/me", None) == 401
            form = {"token": tok["supervisor"]}
            async with browser.post("/panel/login", data=form, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/panel"
            async with browser.get("/v1/me") as r:
                assert (await r.json())["role"] == "supervisor"
            async with browser.get("/panel") as r:
                page = await r.text()
                assert r.status == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
            assert '<script src="/panel/static/panel.js"' in page
            assert await status(browser, "GET", "/panel/static/../app.py", None) == 404
            assert await status(browser, "POST", "/v1/panel/logout", {CSRF_HEADER: "1"}) == 200
            assert await status(browser, "GET", "/v1/me", None) == 401

    scenario(tmp_path, t)


def test_cdr1c_tokens_add_list_revoke(tmp_path: Path, monkeypatch: Any) -> None:
    from click.testing import CliRunner

    from jobs.cli import cli

    monkeypatch.delenv("CDR1C_API_TOKEN", raising=False)  # not needed: only tokens_file is read
    config = tmp_path / "cdr1c.toml"
    config.write_text(
        '[source]\nurl = "sqlite:///cdr.sqlite"\n[api]\ntoken = "${CDR1C_API_TOKEN}"\n', encoding="utf-8"
    )
    run = CliRunner()
    added = run.invoke(cli, ["tokens", "add", "101", "--name", "Иван", "--config", str(config)])
    assert added.exit_code == 0, added.output
    token = added.output.splitlines()[1]
    assert TokenFile(tmp_path / "cdr1c-tokens.json").find(token) is not None
    listed = run.invoke(cli, ["tokens", "list", "--json", "--config", str(config)])
    (row,) = json.loads(listed.output)
    assert (row["extension"], row["role"], row["name"]) == ("101", "manager", "Иван")
    assert token not in listed.output and "hash" not in row
    assert run.invoke(cli, ["tokens", "add", "1x1", "--config", str(config)]).exit_code == 2
    assert run.invoke(cli, ["tokens", "revoke", row["id"], "--config", str(config)]).exit_code == 0
    assert run.invoke(cli, ["tokens", "revoke", "101", "--config", str(config)]).exit_code == 1
    assert TokenFile(tmp_path / "cdr1c-tokens.json").records() == []
