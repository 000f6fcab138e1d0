"""A TCP AMI server double that behaves, byte for byte, like the recorded Asterisk 22.10.1.

Built from `tests/fixtures/asterisk22-ami-wire/` (README + *.wire.txt):

- banner `Asterisk Call Manager/11.0.0\\r\\n` on connect (one line, no blank line after it);
- input framed the way manager.c frames it: a line ends at LF (CR before it optional), an empty
  line ends an action, a line over 1024 bytes gets the action discarded;
- `Login` plain or with `AuthType: MD5` after `Challenge`; a wrong secret is answered after
  1 s (`auth_fail_delay`) with `Authentication failed` and the connection is closed;
- any other action before login → `Permission denied`, session kept;
- `Originate` with `Async: true` → `Originate successfully queued` at once and a later
  `OriginateResponse` (Success/Failure + Reason), an event for every session with events on
  (a session logged in with `Events: off` does not get its own, as in
  `tests/fixtures/asterisk22-live-scenarios/`); without Async the session blocks (events held
  back, pipelined actions answered after it) and no OriginateResponse is sent;
- `Redirect`, `Hangup`, `Setvar`, `ExtensionState`, `ExtensionStateList` (event list), `Ping`;
  unknown action and missing action answered with Asterisk's exact messages;
- `Logoff` → `Goodbye` and the connection is closed.

Fault injection for tests: drop a connection mid-message, send arbitrary bytes in chosen chunks
(a UTF-8 character split across writes), answer with bare LF instead of CRLF, go silent
(half-open), drop slow readers (writetimeout), restart the server on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
Headers = list[tuple[str, str]]


@dataclass
class OriginatePlan:
    """What the double answers to an async Originate: `Success` + 4 answers the call."""

    response: str = "Success"  # or "Failure"
    reason: int = 4
    delay: float = 0.005


@dataclass
class Session:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    user: str | None = None
    challenge: str | None = None
    events: bool = True
    held: list[bytes] = field(default_factory=list)
    blocked: bool = False


class AmiDouble:
    """Start with `await double.start()`; `double.port` is an ephemeral port on 127.0.0.1."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        readonly_users: tuple[str, ...] = ("ro",),
        line_end: bytes = b"\r\n",
        auth_fail_delay: float = 1.0,
        challenge: str = "211029749",
        writetimeout: float | None = None,
    ) -> None:
        self.users = users if users is not None else {"cdr1c": "s3cret-ami-secret"}
        self.readonly_users = readonly_users
        self.line_end = line_end
        self.auth_fail_delay = auth_fail_delay
        self.challenge = challenge
        self.writetimeout = writetimeout
        self.port = 0
        self.sessions: list[Session] = []
        self.actions: list[Headers] = []  # every action as manager.c framed it
        self.action_times: list[float] = []  # time.perf_counter() when each action was complete
        self.raw_in = bytearray()
        self.discarded_lines = 0
        self.extensions: dict[str, tuple[int, str]] = {}  # exten → (status, hint)
        self.hint_context = "ext-local"
        self.channels: set[str] | None = None  # None: every channel exists
        self.originate_plans: dict[str, OriginatePlan] = {}  # keyed by Exten or Channel
        self.hold_originate_responses = False
        self.sync_originate_delay = 0.2
        self.silent = False  # answer nothing (a half-open connection)
        self.logins = 0
        self.fully_booted = True  # send FullyBooted after a login (a replay sends the recorded one)
        # Action name (lower case) → frames to answer with, or None for the built-in answer:
        # lets a replay answer the way a recorded session was answered (tests/live_replay.py).
        self.responders: dict[str, Callable[[Headers], list[bytes] | None]] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            self._close(s)
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def restart(self, downtime: float = 0.0) -> None:
        """Close every session and the listener, then listen again on the same port."""
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start()

    # --- what tests drive ------------------------------------------------------------------

    def message(self, headers: Headers) -> bytes:
        end = self.line_end
        return (
            b"".join(k.encode() + b": " + v.encode("utf-8", "surrogateescape") + end for k, v in headers)
            + end
        )

    def logged_in(self) -> list[Session]:
        return [s for s in self.sessions if s.user is not None]

    async def emit(self, headers: Headers) -> None:
        """Send one event to every logged-in session with events on."""
        await self.emit_raw(self.message(headers))

    async def emit_raw(self, data: bytes, chunks: list[int] | None = None, pause: float = 0.0) -> None:
        """Send raw bytes to every logged-in session, optionally cut into chunks of given sizes."""
        for s in self.logged_in():
            if not s.events:
                continue
            if s.blocked:
                s.held.append(data)
                continue
            pieces = _cut(data, chunks)
            for piece in pieces:
                await self._send(s, piece)
                if pause:
                    await asyncio.sleep(pause)

    async def drop_mid_message(self, headers: Headers) -> None:
        """Write the first half of a message to every session, then close the connection."""
        data = self.message(headers)
        for s in self.logged_in():
            s.writer.write(data[: len(data) // 2])
            with contextlib.suppress(Exception):
                await s.writer.drain()
            self._close(s)

    async def set_extension(self, exten: str, status: int, hint: str | None = None) -> None:
        """Change a hint's state and send the ExtensionStatus event Asterisk would send."""
        hint = hint or self.extensions.get(exten, (0, f"PJSIP/{exten}"))[1]
        self.extensions[exten] = (status, hint)
        await self.emit(
            [
                ("Event", "ExtensionStatus"),
                ("Privilege", "call,all"),
                ("Exten", exten),
                ("Context", self.hint_context),
                ("Hint", hint),
                ("Status", str(status)),
                ("StatusText", STATUS_TEXT.get(status, "Unknown")),
            ]
        )

    def actions_named(self, name: str) -> list[Headers]:
        return [a for a in self.actions if _first(a, "Action").lower() == name.lower()]

    # --- the server ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        session = Session(reader, writer)
        self.sessions.append(session)
        try:
            writer.write(BANNER)
            await writer.drain()
            buf = bytearray()
            lines: list[bytes] = []
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                self.raw_in += data
                buf += data
                # manager.c get_input: a line ends at LF; CR before it is dropped.
                while (nl := buf.find(b"\n")) >= 0:
                    line = bytes(buf[:nl])
                    del buf[: nl + 1]
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    if len(line) > 1024:
                        self.discarded_lines += 1
                        lines = [b"\x00too-long"]
                        continue
                    if line:
                        lines.append(line)
                        continue
                    if not lines:
                        continue
                    action, lines = lines, []
                    if action == [b"\x00too-long"] or b"\x00too-long" in action:
                        continue  # "Line too long": Asterisk discards the whole message
                    headers = [_split(x) for x in action]
                    self.actions.append(headers)
                    self.action_times.append(time.perf_counter())
                    if not await self._handle(session, headers):
                        return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._close(session)
            self._tasks.discard(task)

    def _close(self, s: Session) -> None:
        if s in self.sessions:
            self.sessions.remove(s)
        with contextlib.suppress(Exception):
            s.writer.close()

    async def _send(self, s: Session, data: bytes) -> None:
        s.writer.write(data)
        try:
            if self.writetimeout is None:
                await s.writer.drain()
            else:
                # Asterisk drops a session whose event write does not finish in writetimeout.
                await asyncio.wait_for(s.writer.drain(), self.writetimeout)
        except (TimeoutError, ConnectionError):
            self._close(s)

    async def _reply(self, s: Session, headers: Headers) -> None:
        await self._send(s, self.message(headers))

    async def _handle(self, s: Session, h: Headers) -> bool:
        if self.silent:
            return True
        action = _first(h, "Action")
        aid = _first(h, "ActionID")
        ids = [("ActionID", aid)] if aid else []
        name = action.lower()

        def ok(*extra: tuple[str, str]) -> Headers:
            return [("Response", "Success"), *ids, *extra]

        def err(message: str) -> Headers:
            return [("Response", "Error"), *ids, ("Message", message)]

        if not action:
            await self._reply(s, err("Missing action in request"))
            return True
        if name == "logoff":
            await self._reply(s, [("Response", "Goodbye"), *ids, ("Message", "Thanks for all the fish.")])
            return False
        if name == "challenge":
            s.challenge = self.challenge
            await self._reply(s, ok(("Challenge", self.challenge)))
            return True
        if name == "login":
            return await self._login(s, h, ok, err)
        if s.user is None:
            await self._reply(s, err("Permission denied"))
            return True
        if name == "ping":
            await self._reply(s, ok(("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")))
            return True
        responder = self.responders.get(name)
        frames = responder(h) if responder is not None else None
        if frames is not None:
            for frame in frames:
                await self._send(s, frame)
            return True
        if s.user in self.readonly_users and name in (
            "originate",
            "redirect",
            "hangup",
            "setvar",
            "command",
            "extensionstate",
        ):
            await self._reply(s, err("Permission denied"))
            return True
        if name == "originate":
            await self._originate(s, h, ids, ok, err)
        elif name == "redirect":
            chan = _first(h, "Channel")
            if self.channels is not None and chan not in self.channels:
                await self._reply(s, err(f"Channel does not exist: {chan}"))
            else:
                await self._reply(s, ok(("Message", "Redirect successful")))
        elif name == "hangup":
            chan = _first(h, "Channel")
            if self.channels is not None and chan not in self.channels:
                await self._reply(s, err("No such channel"))
            else:
                await self._reply(s, ok(("Message", "Channel Hungup")))
        elif name == "setvar":
            await self._reply(s, ok(("Message", "Variable Set")))
        elif name == "extensionstate":
            exten = _first(h, "Exten")
            status, hint = self.extensions.get(exten, (-1, ""))
            await self._reply(
                s,
                ok(
                    ("Message", "Extension Status"),
                    ("Exten", exten),
                    ("Context", _first(h, "Context") or "default"),
                    ("Hint", hint),
                    ("Status", str(status)),
                    ("StatusText", STATUS_TEXT.get(status, "Unknown")),
                ),
            )
        elif name == "extensionstatelist":
            out = self.message(ok(("EventList", "start"), ("Message", "Extension Statuses will follow")))
            for exten, (status, hint) in self.extensions.items():
                out += self.message(
                    [
                        ("Event", "ExtensionStatus"),
                        *ids,
                        ("Exten", exten),
                        ("Context", self.hint_context),
                        ("Hint", hint),
                        ("Status", str(status)),
                        ("StatusText", STATUS_TEXT.get(status, "Unknown")),
                    ]
                )
            out += self.message(
                [
                    ("Event", "ExtensionStateListComplete"),
                    *ids,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self.extensions))),
                ]
            )
            await self._send(s, out)
        else:
            await self._reply(
                s,
                err(
                    f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
                ),
            )
        return True

    async def _login(self, s: Session, h: Headers, ok: object, err: object) -> bool:
        user = _first(h, "Username")
        secret = self.users.get(user)
        if _first(h, "AuthType").lower() == "md5":
            good = (
                secret is not None
                and s.challenge is not None
                and hashlib.md5((s.challenge + secret).encode()).hexdigest() == _first(h, "Key")
            )
        else:
            good = secret is not None and _first(h, "Secret") == secret
        aid = _first(h, "ActionID")
        ids = [("ActionID", aid)] if aid else []
        if not good:
            await asyncio.sleep(self.auth_fail_delay)  # manager.c sleep(1)
            await self._reply(s, [("Response", "Error"), *ids, ("Message", "Authentication failed")])
            return False
        s.user = user
        s.events = _first(h, "Events").lower() != "off"
        self.logins += 1
        await self._reply(s, [("Response", "Success"), *ids, ("Message", "Authentication accepted")])
        if s.events and self.fully_booted:
            await self._reply(
                s,
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", "601"),
                    ("LastReload", "564"),
                    ("Status", "Fully Booted"),
                ],
            )
        return True

    async def _originate(self, s: Session, h: Headers, ids: Headers, ok: object, err: object) -> None:
        plan = (
            self.originate_plans.get(_first(h, "Exten"))
            or self.originate_plans.get(_first(h, "Channel"))
            or OriginatePlan()
        )
        if _first(h, "Async").lower() not in ("true", "yes", "1"):
            # Sync originate blocks the whole session; events are held back (docs/reference/asterisk.md §7).
            s.blocked = True
            await asyncio.sleep(self.sync_originate_delay)
            s.blocked = False
            if plan.response == "Success":
                await self._reply(
                    s, [("Response", "Success"), *ids, ("Message", "Originate successfully queued")]
                )
            else:
                await self._reply(s, [("Response", "Error"), *ids, ("Message", "Originate failed")])
            for data in s.held:
                await self._send(s, data)
            s.held.clear()
            return
        await self._reply(s, [("Response", "Success"), *ids, ("Message", "Originate successfully queued")])
        if self.hold_originate_responses:
            return
        task = asyncio.create_task(self._originate_response(h, ids, plan))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _originate_response(self, h: Headers, ids: Headers, plan: OriginatePlan) -> None:
        await asyncio.sleep(plan.delay)
        chan = _first(h, "Channel")
        target = (
            [("Application", _first(h, "Application")), ("Data", _first(h, "Data"))]
            if _first(h, "Application")
            else [("Context", _first(h, "Context")), ("Exten", _first(h, "Exten"))]
        )
        num, name = _callerid(_first(h, "CallerID"))
        # A manager event like any other (the capture): every session with events on gets it,
        # the originating one only if it has events on, and whether or not it is still there.
        await self.emit(
            [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                ("Timestamp", f"{time.time():.6f}"),
                *ids,
                ("Response", plan.response),
                (
                    "Channel",
                    chan
                    + ("-00000049;1" if plan.response == "Success" and chan.startswith("Local/") else ""),
                ),
                *target,
                ("Reason", str(plan.reason)),
                ("Uniqueid", _first(h, "ChannelId") or "<unknown>"),
                ("CallerIDNum", num),
                ("CallerIDName", name),
            ],
        )


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


def _split(line: bytes) -> tuple[str, str]:
    key, _, value = line.partition(b":")
    return key.decode("utf-8", "surrogateescape").strip(), value.lstrip(b" \t").decode(
        "utf-8", "surrogateescape"
    )


def _first(headers: Headers, key: str) -> str:
    """manager.c __astman_get_header: first occurrence wins, keys case-insensitive."""
    lk = key.lower()
    for k, v in headers:
        if k.lower() == lk:
            return v
    return ""


def _callerid(value: str) -> tuple[str, str]:
    if "<" in value and value.endswith(">"):
        name, _, num = value.rpartition("<")
        return num[:-1], name.strip().strip('"') or "<unknown>"
    return (value or "<unknown>"), "<unknown>"


def _cut(data: bytes, chunks: list[int] | None) -> list[bytes]:
    if not chunks:
        return [data]
    out, pos = [], 0
    for size in chunks:
        if pos >= len(data):
            break
        out.append(data[pos : pos + size])
        pos += size
    if pos < len(data):
        out.append(data[pos:])
    return out


def frame_like_manager_c(data: bytes) -> list[Headers]:
    """Split bytes into actions exactly as manager.c reads them (for injection tests)."""
    out: list[Headers] = []
    lines: list[bytes] = []
    too_long = False
    for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > 1024:
            too_long = True
            continue
        if line:
            lines.append(line)
            continue
        if lines and not too_long:
            out.append([_split(x) for x in lines])
        lines, too_long = [], False
    if lines:
        out.append([_split(x) for x in lines])  # an unterminated tail still counts as injected
    return out


def run(coro: object, timeout: float = 20.0) -> object:
    """Run a coroutine in a fresh event loop with a hard timeout (no pytest-asyncio needed)."""

    async def bounded() -> object:
        return await asyncio.wait_for(coro, timeout)  # type: ignore[arg-type]

    return asyncio.run(bounded())


# --- the whole live stack on loopback, for API tests and benchmarks ---------------------------

TOKEN = "t0ken-for-tests-0123456789"


class LiveStack:
    """Double + AMI client + operations + states + hub + HTTP API, all on 127.0.0.1:0."""

    def __init__(
        self,
        *,
        managers: dict[str, str] | None = None,
        rate: str = "1000/s",
        backfill: object = None,
        ivr_context: str = "ivr",
        dry_run: bool = False,
        call_ids: Callable[[], str] | None = None,
        **settings: Any,
    ) -> None:
        from etl.config import AmiSettings

        self.double = AmiDouble()
        self.settings = AmiSettings(
            host="127.0.0.1",
            port=0,
            user="cdr1c",
            secret="s3cret-ami-secret",
            context="from-internal",
            ivr_context=ivr_context,
            intercept_context="from-internal-xfer",
            routing_context="cdr1c-route",
            managers=managers or {},
            routing_dry_run=dry_run,
            hint_context="ext-local",
        )
        self.settings = dataclasses.replace(self.settings, **settings)
        self.call_ids = call_ids
        self.rate = rate
        self.backfill = backfill
        self.url = ""

    async def __aenter__(self) -> LiveStack:
        from aiohttp import web

        from etl.ami.client import AmiClient, Backoff
        from etl.ami.operations import Operations
        from etl.ami.routing import SmartRouter, TomlManagerDirectory
        from etl.ami.screenpop import ScreenPop
        from etl.ami.states import ExtensionStates
        from etl.api.app import LiveContext, create_app
        from etl.api.hub import EventHub
        from etl.api.jobs import BackfillJobs
        from etl.phones import PhoneNormaliser

        await self.double.start()
        self.settings = dataclasses.replace(self.settings, port=self.double.port)
        s = self.settings
        self.client = AmiClient(s.host, s.port, s.user, s.secret, backoff=Backoff(0.02, 0.05))
        self.normaliser = PhoneNormaliser("RU", s.extension_pattern)
        self.states = ExtensionStates(s.channel, s.hint_context)
        self.directory = TomlManagerDirectory(s.managers, self.normaliser)
        self.hub = EventHub()
        self.pop = ScreenPop(s.channel, self.normaliser, self.directory)
        if self.call_ids is None:
            self.ops = Operations(self.client, s, calls=self.pop.calls)
        else:
            self.ops = Operations(self.client, s, self.call_ids, calls=self.pop.calls)
        self.router = SmartRouter(
            self.ops,
            self.states,
            self.directory,
            self.normaliser,
            ivr_context=s.ivr_context,
            ring_timeout=s.routing_ring_timeout,
            dry_run=s.routing_dry_run,
        )

        async def resync(c: AmiClient) -> None:
            self.pop.calls.reset()
            _, items = await c.send_list("ExtensionStateList")
            self.states.replace_all(items)

        def on_event(msg: object) -> None:
            if self.states.apply(msg):  # type: ignore[arg-type]
                return
            ev = self.pop.translate(msg)  # type: ignore[arg-type]
            if ev is not None:
                self.hub.publish(ev)
            self.router.on_event(msg)  # type: ignore[arg-type]

        self.client.on_connect(resync)
        self.client.on_event(on_event)
        await self.client.start()
        await self.client.wait_connected(5)
        self.jobs = BackfillJobs(self.backfill) if self.backfill else None  # type: ignore[arg-type]

        def status() -> dict[str, object]:
            return {"connected": self.client.connected, "connects": self.client.connects}

        app = create_app(
            LiveContext(
                token=TOKEN,
                ops=self.ops,
                states=self.states,
                hub=self.hub,
                ami_status=status,
                jobs=self.jobs,
                originate_rate=self.rate,
                sse_keepalive=0.2,
            )
        )
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.stop()
        await self.runner.cleanup()
        await self.double.stop()
        if self.jobs:
            self.jobs.shutdown()
