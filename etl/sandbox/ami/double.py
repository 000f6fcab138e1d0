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
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .actions import ACTIONS, Action, unknown
from .wire import BANNER, STATUS_TEXT, Headers, callerid, cut, first_value, split_line


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
            pieces = cut(data, chunks)
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
        return [a for a in self.actions if first_value(a, "Action").lower() == name.lower()]

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
                    headers = [split_line(x) for x in action]
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
        action = first_value(h, "Action")
        aid = first_value(h, "ActionID")
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
        else:
            answer = ACTIONS.get(name, unknown)(self, Action(h))
            await self._send(s, b"".join(self.message(frame) for frame in answer))
        return True

    async def _login(self, s: Session, h: Headers, ok: object, err: object) -> bool:
        user = first_value(h, "Username")
        secret = self.users.get(user)
        if first_value(h, "AuthType").lower() == "md5":
            good = (
                secret is not None
                and s.challenge is not None
                and hashlib.md5((s.challenge + secret).encode()).hexdigest() == first_value(h, "Key")
            )
        else:
            good = secret is not None and first_value(h, "Secret") == secret
        aid = first_value(h, "ActionID")
        ids = [("ActionID", aid)] if aid else []
        if not good:
            await asyncio.sleep(self.auth_fail_delay)  # manager.c sleep(1)
            await self._reply(s, [("Response", "Error"), *ids, ("Message", "Authentication failed")])
            return False
        s.user = user
        s.events = first_value(h, "Events").lower() != "off"
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
            self.originate_plans.get(first_value(h, "Exten"))
            or self.originate_plans.get(first_value(h, "Channel"))
            or OriginatePlan()
        )
        if first_value(h, "Async").lower() not in ("true", "yes", "1"):
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
        chan = first_value(h, "Channel")
        target = (
            [("Application", first_value(h, "Application")), ("Data", first_value(h, "Data"))]
            if first_value(h, "Application")
            else [("Context", first_value(h, "Context")), ("Exten", first_value(h, "Exten"))]
        )
        num, name = callerid(first_value(h, "CallerID"))
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
                ("Uniqueid", first_value(h, "ChannelId") or "<unknown>"),
                ("CallerIDNum", num),
                ("CallerIDName", name),
            ],
        )
