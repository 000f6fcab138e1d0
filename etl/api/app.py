"""The live HTTP API for 1C (aiohttp): the paths of design.md §5, JSON, bearer token.

Every path but `/health` and the panel's page needs `Authorization: Bearer <token>` (the
`[api] token`, or an employee's: etl/api/access.py) or the panel's session cookie, compared in
constant time; a manager acts only for their own extension, other requests → 403.
Invalid input → 400 (not JSON) or 422 (a value the configuration does not allow); a call that
is not on the PBX → 404, one not in a state the operation needs → 409; a missing or wrong token
→ 401; originate over the per-token rate → 429; AMI down → 503; Asterisk said
no → 502 with its message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web

from etl.ami.calls import CallConflict, NoSuchCall
from etl.ami.client import OriginateResult, PendingOriginate
from etl.ami.operations import INTERCEPT_MODES, SPY_FLAGS, CallStarted, Operations
from etl.ami.states import ExtensionStates
from etl.api.access import Access, AccessDenied
from etl.api.feed import PanelData
from etl.api.guard import PRINCIPAL, Unauthenticated, authenticate, principal
from etl.api.health import health, sync_off
from etl.api.hub import EventHub
from etl.api.jobs import BackfillJobs
from etl.api.openapi import openapi_document
from etl.api.panel_routes import add_panel_routes
from etl.errors import AmiActionFailed, AmiError, AmiNotConnected, AmiTimeout, OperationRefused

log = logging.getLogger(__name__)

_RATE = re.compile(r"\s*(\d+)\s*/\s*(s|m|h)\s*\Z")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0}


class RateLimiter:
    """Token bucket per API token: `"10/m"` allows bursts of 10 and 10 a minute on average."""

    def __init__(self, rate: str, clock: Callable[[], float] = time.monotonic) -> None:
        m = _RATE.match(rate)
        if not m:
            raise ValueError(f"rate must look like '10/m', got {rate!r}")
        self.capacity = float(m[1])
        self.per_second = self.capacity / _UNIT[m[2]]
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str) -> float:
        """0 if allowed (and counted), else seconds until the next request would be."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.per_second
        self._buckets[key] = (tokens - 1, now)
        return 0.0


@dataclass
class LiveContext:
    """What the API needs from the running live component."""

    token: str
    ops: Operations
    states: ExtensionStates
    hub: EventHub
    ami_status: Callable[[], dict[str, Any]]
    jobs: BackfillJobs | None = None
    originate_rate: str = "10/m"
    sse_keepalive: float = 15.0
    access: Access | None = None  # None: only the administrator's `token`
    panel: PanelData | None = None  # the cards and queue waiters (None: the panel shows events only)
    sync_status: Callable[[], dict[str, Any]] = sync_off  # the event-driven sync's (jobs/live_sync.py)

    def __post_init__(self) -> None:
        if self.access is None:
            self.access = Access(self.token)


CTX = web.AppKey("live", LiveContext)
LIMITER = web.AppKey("limiter", RateLimiter)
PUBLIC = frozenset({"/health", "/panel", "/panel/login"})
PUBLIC_PREFIX = "/panel/static/"


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response(
        {"error": message, **extra},
        status=status,
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


def _ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


@web.middleware
async def auth_and_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path not in PUBLIC and not request.path.startswith(PUBLIC_PREFIX):
        access = request.app[CTX].access
        assert access is not None
        try:
            request[PRINCIPAL] = authenticate(request, access)
        except Unauthenticated as exc:
            return _error(exc.status, str(exc))
    try:
        return await handler(request)
    except AccessDenied as exc:
        return _error(403, str(exc))
    except NoSuchCall as exc:
        return _error(404, str(exc))
    except CallConflict as exc:
        return _error(409, str(exc))
    except OperationRefused as exc:
        return _error(422, str(exc))
    except AmiNotConnected as exc:
        return _error(503, str(exc))
    except AmiActionFailed as exc:
        return _error(502, f"Asterisk: {exc}")
    except (AmiTimeout, AmiError) as exc:
        return _error(504 if isinstance(exc, AmiTimeout) else 502, str(exc))


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body is not valid JSON"}), content_type="application/json"
        ) from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return body


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise OperationRefused(f"{name}: required, a non-empty string")
    return value


def _rate_key(request: web.Request) -> str:
    p = principal(request)
    who = request.headers.get("Authorization", "") or f"{p.role}:{p.token_id}"
    return hashlib.sha256(who.encode()).hexdigest()[:16]


def _check_rate(request: web.Request) -> None:
    wait = request.app[LIMITER].take(_rate_key(request))
    if wait:
        raise web.HTTPTooManyRequests(
            text=json.dumps({"error": "too many originate requests", "retry_after": wait}),
            content_type="application/json",
            headers={"Retry-After": str(int(wait) + 1)},
        )


def _follow(ctx: LiveContext, started: CallStarted, kind: str, extension: str) -> None:
    """Publish the outcome as an event, so 1C learns busy / no answer / picked up or not.

    A pickup's outcome is not the OriginateResponse (that only says the employee's phone
    answered) but whether the new leg then picked the call up (`CallStarted.picked`)."""

    def publish(**outcome: Any) -> None:
        event: dict[str, Any] = {
            "type": f"{kind}_result",
            "extension": extension,
            "linkedid": started.id,
            "ts": time.time(),
            **outcome,
        }
        ctx.hub.publish(event)

    def answered(fut: asyncio.Future[OriginateResult]) -> None:
        failed = fut.cancelled() or fut.exception() is not None or not fut.result().success
        if failed and started.picked is not None:
            started.picked.cancel()  # no new leg: nothing will ever pick up
        if fut.cancelled():
            return
        if fut.exception() is not None:
            publish(success=False, reason="connection lost: not repeated")
            return
        result = fut.result()
        if not result.success or started.picked is None:
            publish(success=result.success, reason=result.reason_text, reason_code=result.reason)
            return
        started.picked.add_done_callback(lambda picked: picked_up(picked, result))

    def picked_up(fut: asyncio.Future[bool], result: OriginateResult) -> None:
        ok = not fut.cancelled() and fut.result()
        publish(
            success=ok,
            reason="picked up" if ok else "answered, but nothing was picked up",
            reason_code=result.reason,
        )

    pending: PendingOriginate = started.pending
    pending.outcome.add_done_callback(answered)


async def post_calls(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    body = await _json_body(request)
    employee, number = _field(body, "from"), _field(body, "to")
    ctx.ops.policy.extension(employee, "from")
    principal(request).own(employee, "from")
    ctx.ops.policy.number(number, "to")
    _check_rate(request)
    started = await ctx.ops.click_to_call(employee, number)
    _follow(ctx, started, "originate", employee)
    return _ok({"id": started.id, "status": "queued"}, status=201)


async def post_intercept(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    body = await _json_body(request)
    to = _field(body, "to")
    mode = body.get("mode", "redirect")
    if mode not in INTERCEPT_MODES:
        raise OperationRefused(f"mode must be one of {', '.join(INTERCEPT_MODES)}")
    principal(request).own(to, "to")
    if mode == "pickup":
        _check_rate(request)
    result = await ctx.ops.intercept(request.match_info["id"], to, mode)
    if isinstance(result, CallStarted):
        _follow(ctx, result, "pickup", to)
        return _ok({"id": result.id, "status": "queued", "mode": mode})
    return _ok(
        {
            "id": request.match_info["id"],
            "status": "redirected",
            "mode": mode,
            "linkedid": result.linkedid,
            "channel": result.channel,
            "uniqueid": result.uniqueid,
        }
    )


async def post_spy(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    body = await _json_body(request)
    supervisor, target = _field(body, "supervisor"), _field(body, "target")
    mode = body.get("mode", "listen")
    if mode not in SPY_FLAGS:
        raise OperationRefused(f"mode must be one of {', '.join(SPY_FLAGS)}")
    ctx.ops.policy.extension(supervisor, "supervisor")
    ctx.ops.policy.extension(target, "target")
    principal(request).spy(supervisor)
    _check_rate(request)
    started = await ctx.ops.spy(supervisor, target, mode)
    _follow(ctx, started, "spy", supervisor)
    return _ok({"id": started.id, "status": "queued", "mode": mode}, status=201)


async def delete_call(request: web.Request) -> web.Response:
    principal(request).admin_only("hanging up a call")
    await request.app[CTX].ops.hangup(request.match_info["id"])
    return _ok({"id": request.match_info["id"], "status": "hung up"})


async def get_extensions(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    return _ok({"extensions": [s.as_json() for s in ctx.states.all()], "ami": ctx.ami_status()})


async def get_events(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    extension = request.query.get("extension")
    if extension is not None:
        ctx.ops.policy.extension(extension)
    sub = ctx.hub.subscribe(principal(request).events_of(extension))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        await response.write(b": connected\n\n")
        while True:
            try:
                first = await asyncio.wait_for(sub.get(), ctx.sse_keepalive)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            # Whatever else is already queued goes out in the same write: one syscall per burst.
            batch = [first]
            while batch[-1] is not None and not sub.queue.empty() and len(batch) < 256:
                batch.append(sub.queue.get_nowait())
            chunks = []
            for ev in batch:
                if ev is None:
                    break
                if sub.dropped:
                    ev = {**ev, "dropped_before": sub.dropped}
                data = json.dumps(ev, ensure_ascii=False)
                chunks.append(f"id: {ev['id']}\nevent: {ev['type']}\ndata: {data}\n\n")
            if chunks:
                await response.write("".join(chunks).encode())
            if batch[-1] is None:  # the hub closed (shutdown): the response ends here
                break
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        sub.close()
    return response


async def post_backfill(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    principal(request).admin_only("backfill")
    if ctx.jobs is None:
        return _error(503, "backfill is not available here")
    body = await _json_body(request)
    try:
        since, until = (
            date.fromisoformat(_field(body, "since")),
            date.fromisoformat(_field(body, "until")),
        )
    except ValueError:
        raise OperationRefused("since, until: expected dates as YYYY-MM-DD") from None
    if since > until:
        raise OperationRefused("since must not be after until")
    job = ctx.jobs.start(since, until)
    return _ok(job.as_json(), status=202)


async def get_job(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    principal(request).admin_only("backfill jobs")
    job = ctx.jobs.get(request.match_info["id"]) if ctx.jobs else None
    if job is None:
        return _error(404, "no such job")
    return _ok(job.as_json())


async def get_health(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    return _ok(health(ctx.ami_status(), ctx.sync_status()))


async def get_openapi(request: web.Request) -> web.Response:
    return _ok(openapi_document())


async def _end_streams(app: web.Application) -> None:
    """On shutdown: end every event stream, so no open SSE client holds the process up."""
    app[CTX].hub.close()


def create_app(ctx: LiveContext) -> web.Application:
    app = web.Application(middlewares=[auth_and_errors], client_max_size=64 * 1024)
    app[CTX] = ctx
    app.on_shutdown.append(_end_streams)
    app[LIMITER] = RateLimiter(ctx.originate_rate)
    app.router.add_post("/v1/calls", post_calls)
    app.router.add_post("/v1/calls/{id:.+}/intercept", post_intercept)
    app.router.add_delete("/v1/calls/{id:.+}", delete_call)
    app.router.add_post("/v1/spy", post_spy)
    app.router.add_get("/v1/extensions", get_extensions)
    app.router.add_get("/v1/events", get_events)
    app.router.add_post("/v1/backfill", post_backfill)
    app.router.add_get("/v1/jobs/{id}", get_job)
    app.router.add_get("/health", get_health)
    app.router.add_get("/openapi.json", get_openapi)
    add_panel_routes(app, CTX)
    return app
