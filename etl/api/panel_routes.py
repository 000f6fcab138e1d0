"""The panel's routes: the page itself, its sign-in, and the API it (and 1C) reads besides the
call operations of app.py.

- `GET /panel`, `GET /panel/static/{panel.js,panel.css}`: the page (package data, etl/data_files.py),
  no token needed to load it; it asks `/v1/me` and shows a sign-in form when there is no session;
- `GET /panel/login?code=…`: a one-time code (from `POST /v1/panel/links`) → session cookie;
  `POST /panel/login` with a `token` form field does the same for a token typed in;
  `POST /v1/panel/logout` ends the session;
- `GET /v1/me`: who the token or cookie is; `GET /v1/queues`: callers waiting;
  `GET /v1/calls/{id}/card`: the incoming call card; `GET /v1/events/poll`: long-poll;
  `GET /v1/extensions/{ext}/call`: the call ringing at or talking on an extension.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from etl.api.access import CODE_SECONDS, COOKIE, SESSION_SECONDS
from etl.api.guard import principal
from etl.data_files import data_folder

MAX_WAIT = 25.0  # seconds a long-poll may wait: below common proxy and 1C timeouts (30 s, 60 s)
ASSETS = {"panel.js": "application/javascript", "panel.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def add_panel_routes(app: web.Application, ctx_key: web.AppKey[Any]) -> None:
    """Register the panel's routes; `ctx_key` finds the app's `LiveContext`."""

    async def page(request: web.Request) -> web.StreamResponse:
        return _file("panel.html", "text/html")

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return _file(name, ASSETS[name])

    async def login_code(request: web.Request) -> web.StreamResponse:
        sid = request.app[ctx_key].access.redeem(request.query.get("code", ""))
        return _signed_in(request, sid)

    async def login_form(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = str(form.get("token") or "").strip()
        access = request.app[ctx_key].access
        p = access.bearer(token) if token else None
        return _signed_in(request, access.new_session(p) if p else None)

    async def logout(request: web.Request) -> web.Response:
        sid = request.cookies.get(COOKIE)
        if sid:
            request.app[ctx_key].access.end_session(sid)
        response = _json({"status": "signed out"})
        response.del_cookie(COOKIE, path="/")
        return response

    async def links(request: web.Request) -> web.Response:
        code = request.app[ctx_key].access.new_code(principal(request))
        return _json(
            {"code": code, "url": f"/panel/login?code={code}", "expires_in": int(CODE_SECONDS)},
            status=201,
        )

    async def me(request: web.Request) -> web.Response:
        ctx = request.app[ctx_key]
        data = ctx.panel
        return _json(
            {
                **principal(request).as_json(),
                "lang": data.lang if data is not None else "ru",
                "ami": ctx.ami_status(),
            }
        )

    async def queues(request: web.Request) -> web.Response:
        ctx = request.app[ctx_key]
        waiting = ctx.panel.waiters() if ctx.panel is not None else []
        return _json({"waiting": waiting, "ami": ctx.ami_status()})

    async def card(request: web.Request) -> web.Response:
        ctx = request.app[ctx_key]
        call = request.match_info["id"]
        seen = [e for e in ctx.hub.recent if e.get("linkedid") == call and "caller" in e]
        if not seen:
            return _json({"error": f"no recent call {call!r}"}, status=404)
        principal(request).sees_call({str(e.get("extension")) for e in seen})
        number = next((e["caller"] for e in seen if e.get("caller")), "")
        out: dict[str, Any] = {
            "linkedid": call,
            "number": number,
            "caller_name": next((e["caller_name"] for e in seen if e.get("caller_name")), ""),
            "client": None,
            "last_calls": [],
            "open_missed": [],
        }
        cards = ctx.panel.cards if ctx.panel is not None else None
        if number and cards is not None:
            out.update(await asyncio.to_thread(cards.card, number))
        elif seen[-1].get("client"):
            out["client"] = {"name": seen[-1]["client"]}
        return _json(out)

    async def line_call(request: web.Request) -> web.Response:
        """The call ringing at or talking on an extension now (what a colleague's pickup or a
        supervisor's listen needs): the newest ringing/answered event of that extension that
        no hangup of the same leg followed."""
        ctx = request.app[ctx_key]
        exten = ctx.ops.policy.extension(request.match_info["ext"])
        open_legs: dict[str, dict[str, Any]] = {}
        for e in ctx.hub.recent:
            if e.get("extension") != exten or e.get("type") not in ("ringing", "answered", "hangup"):
                continue
            if e["type"] == "hangup":
                open_legs.pop(e.get("uniqueid") or "", None)
            else:
                open_legs[e.get("uniqueid") or ""] = e
        if not open_legs:
            return _json({"error": f"nothing rings at or talks on {exten}"}, status=404)
        e = list(open_legs.values())[-1]
        return _json({"extension": exten, "linkedid": e["linkedid"], "state": e["type"]})

    async def poll(request: web.Request) -> web.Response:
        ctx = request.app[ctx_key]
        extension = request.query.get("extension") or None
        if extension is not None:
            ctx.ops.policy.extension(extension)
        extension = principal(request).events_of(extension)
        try:
            after = int(request.query["after"]) if request.query.get("after") else None
            wait = min(max(float(request.query.get("wait", "0")), 0.0), MAX_WAIT)
        except ValueError:
            return _json({"error": "after: an event id (integer); wait: seconds"}, status=422)
        events, cursor, lost = await ctx.hub.poll(after, extension, wait)
        return _json({"events": events, "cursor": cursor, "lost": lost})

    app.router.add_get("/panel", page)
    app.router.add_get("/panel/static/{name}", asset)
    app.router.add_get("/panel/login", login_code)
    app.router.add_post("/panel/login", login_form)
    app.router.add_post("/v1/panel/logout", logout)
    app.router.add_post("/v1/panel/links", links)
    app.router.add_get("/v1/me", me)
    app.router.add_get("/v1/queues", queues)
    app.router.add_get("/v1/calls/{id:.+}/card", card)
    app.router.add_get("/v1/events/poll", poll)
    app.router.add_get("/v1/extensions/{ext}/call", line_call)


def _file(name: str, content_type: str) -> web.Response:
    body = (data_folder("panel") / name).read_bytes()
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=SECURITY_HEADERS)


def _signed_in(request: web.Request, sid: str | None) -> web.StreamResponse:
    if sid is None:
        page = (data_folder("panel") / "expired.html").read_bytes()
        return web.Response(
            body=page, status=403, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )
    response = web.Response(status=303, headers={"Location": "/panel", "Referrer-Policy": "no-referrer"})
    secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    response.set_cookie(
        COOKIE,
        sid,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
        max_age=int(SESSION_SECONDS),
    )
    return response
