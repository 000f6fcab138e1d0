"""An asyncio AMI client that stays connected and never sends an action twice.

- One task owns the connection: connect, read the banner, log in (MD5 challenge or plain),
  run the `on_connect` hooks (state resync: events are not replayed after a reconnect,
  docs/reference/asterisk.md §4.1), then read until the connection ends; then run the
  `on_disconnect` hooks (once per lost session, not per failed attempt after it), back off
  with jitter and retry.
- Every action gets a unique ActionID; its response, its event list (`EventList: start` …
  `Complete`) and, for Originate, its `OriginateResponse` are matched by that id, never by order
  (`answers.Answers`).
- Originate is always sent with `Async: true`: a sync Originate blocks the whole session,
  events and Pings included, until the call is answered (docs/reference/asterisk.md §7).
- Nothing is queued for a later connection. An action in flight when the connection drops fails
  with `AmiConnectionLost`; a click-to-call is never dialled twice
  (docs/reference/asterisk.md §6, panoramisk).
- A Ping every `ping_interval`: if its answer does not come within `ping_timeout` the
  connection is taken as half-open and closed, which starts a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from etl.ami.answers import Answers, OriginateResult, PendingOriginate
from etl.ami.backoff import Backoff
from etl.ami.protocol import FrameParser, Message, serialise_action
from etl.errors import (
    AmiActionFailed,
    AmiAuthFailed,
    AmiConnectionLost,
    AmiError,
    AmiNotConnected,
    AmiTimeout,
)

# Where the live process, the API and the tests have always found them.
__all__ = ["AmiClient", "Backoff", "ConnectHook", "EventHandler", "OriginateResult", "PendingOriginate"]

log = logging.getLogger(__name__)

EventHandler = Callable[[Message], None]
ConnectHook = Callable[["AmiClient"], Awaitable[None]]


class AmiClient:
    """A logged-in AMI session that reconnects by itself; see the module docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        secret: str,
        *,
        auth: str = "md5",
        events: str = "on",
        ping_interval: float = 20.0,
        ping_timeout: float = 5.0,
        action_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        name: str = "cdr1c",
    ) -> None:
        self.host, self.port, self.user = host, port, user
        self._secret = secret
        self.auth = auth
        self.events = events
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._ids = itertools.count(1)
        self._prefix = f"{name}-{random.getrandbits(32):08x}"
        self._handlers: list[EventHandler] = []
        self._hooks: list[ConnectHook] = []
        self._lost_hooks: list[ConnectHook] = []
        self._answers = Answers()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._logged_in = asyncio.Event()
        self._stopping = False
        self.banner: str | None = None
        self.connects = 0  # successful logins so far (for health and tests)
        self.last_error: str | None = None

    # --- public surface ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._logged_in.is_set()

    def on_event(self, handler: EventHandler) -> None:
        """Call `handler(message)` for every event (keep it quick: it runs in the read loop)."""
        self._handlers.append(handler)

    def on_connect(self, hook: ConnectHook) -> None:
        """Await `hook(client)` after every login, before `wait_connected` returns."""
        self._hooks.append(hook)

    def on_disconnect(self, hook: ConnectHook) -> None:
        """Await `hook(client)` once each time a logged-in session is lost, before the first
        reconnect attempt; not for attempts that fail before login, not on `stop()`."""
        self._lost_hooks.append(hook)

    async def start(self) -> None:
        """Start the connection task (returns at once; see `wait_connected`)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="ami-client")

    async def wait_connected(self, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(self._logged_in.wait(), timeout)
        except TimeoutError:
            raise AmiTimeout(f"not connected to AMI at {self.host}:{self.port}: {self.last_error}") from None

    async def stop(self) -> None:
        """Log off politely if connected, then stop reconnecting."""
        self._stopping = True
        if self.connected:
            with contextlib.suppress(AmiError, OSError):
                await self.send_action("Logoff", timeout=1.0)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._close_writer()

    async def send_action(
        self,
        action: str,
        fields: Iterable[tuple[str, object]] = (),
        *,
        timeout: float | None = None,
    ) -> Message:
        """Send one action and return its response; `Response: Error` raises `AmiActionFailed`."""
        action_id = self._next_id()
        frame = serialise_action(action, [("ActionID", action_id), *fields])
        fut = self._answers.expect_response(action_id)
        try:
            await self._write(frame)
            return await self._await(fut, timeout, action)
        finally:
            self._answers.forget(action_id)

    async def send_list(
        self,
        action: str,
        fields: Iterable[tuple[str, object]] = (),
        *,
        timeout: float | None = None,
    ) -> tuple[Message, list[Message]]:
        """Send an action that answers with an event list; return the response and the items."""
        action_id = self._next_id()
        frame = serialise_action(action, [("ActionID", action_id), *fields])
        collector = self._answers.expect_list(action_id)
        try:
            await self._write(frame)
            response = await self._await(collector.response, timeout, action)
            if (response.get("EventList") or "").lower() != "start":
                return response, []
            items = await self._await(collector.done, timeout, action)
            return response, items
        finally:
            self._answers.forget(action_id)

    async def originate(
        self, fields: Iterable[tuple[str, object]], *, timeout: float | None = None
    ) -> PendingOriginate:
        """Send `Originate` with `Async: true`; return once Asterisk has queued it.

        The returned `outcome` future resolves with the OriginateResponse for this ActionID, or
        fails with `AmiConnectionLost` if the connection drops first. Never re-sent.
        """
        fields = [(k, v) for k, v in fields if k.lower() != "async"]
        action_id = self._next_id()
        frame = serialise_action("Originate", [("ActionID", action_id), *fields, ("Async", "true")])
        outcome = self._answers.expect_originate(action_id)
        fut = self._answers.expect_response(action_id)
        try:
            await self._write(frame)
            response = await self._await(fut, timeout, "Originate")
        except BaseException:
            self._answers.forget_originate(action_id)
            raise
        finally:
            self._answers.forget(action_id)
        return PendingOriginate(action_id, response, outcome)

    # --- internals -------------------------------------------------------------------------

    def _next_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    async def _await(self, fut: asyncio.Future[Any], timeout: float | None, what: str) -> Any:
        try:
            result = await asyncio.wait_for(asyncio.shield(fut), timeout or self.action_timeout)
        except TimeoutError:
            raise AmiTimeout(f"no answer to {what} within {timeout or self.action_timeout:g} s") from None
        if isinstance(result, Message) and (result.response or "").lower() == "error":
            raise AmiActionFailed(result.get("Message") or f"{what} failed", result)
        return result

    async def _write(self, frame: bytes, *, before_login: bool = False) -> None:
        writer = self._writer
        if writer is None or (not before_login and not self.connected):
            raise AmiNotConnected(f"not connected to AMI at {self.host}:{self.port}")
        writer.write(frame)
        await writer.drain()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _run(self) -> None:
        delays = iter(self.backoff.delays(self._rng))
        while not self._stopping:
            try:
                await self._session()
                delays = iter(self.backoff.delays(self._rng))  # a session that logged in resets
            except asyncio.CancelledError:
                self._answers.fail_all("AMI client stopped")
                raise
            except (OSError, AmiError, EOFError, asyncio.IncompleteReadError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI %s:%s: %s", self.host, self.port, self.last_error)
            finally:
                was = self.connected
                self._logged_in.clear()
                self._close_writer()
                self._answers.fail_all("connection to AMI lost; the action was not repeated")
                if was and not self._stopping:
                    log.warning("AMI connection to %s:%s lost", self.host, self.port)
            if self._stopping:
                break
            if was:
                await self._lost()
            delay = next(delays)
            log.info("AMI reconnect in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _lost(self) -> None:
        for hook in self._lost_hooks:
            try:
                await hook(self)
            except Exception:  # a hook's bug must not stop the reconnecting
                log.exception("AMI on_disconnect hook failed")

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.connect_timeout
        )
        self._writer = writer
        banner = await asyncio.wait_for(reader.readuntil(b"\n"), self.connect_timeout)
        self.banner = banner.decode("utf-8", "replace").strip()
        if not self.banner.startswith("Asterisk Call Manager/"):
            raise AmiError(f"not an AMI server (banner {self.banner[:60]!r})")
        parser = FrameParser()
        reader_task = asyncio.create_task(self._read_loop(reader, parser), name="ami-reader")
        try:
            await self._login()
            self._logged_in.set()
            self.connects += 1
            self.last_error = None
            log.info("AMI connected to %s:%s (%s)", self.host, self.port, self.banner)
            for hook in self._hooks:
                await hook(self)
            await self._keepalive(reader_task)
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task

    async def _keepalive(self, reader_task: asyncio.Task[None]) -> None:
        """Ping until the reader ends; an unanswered Ping means a half-open connection."""
        while True:
            done, _ = await asyncio.wait({reader_task}, timeout=self.ping_interval)
            if done:
                reader_task.result()  # re-raises what ended the reader
                raise AmiConnectionLost("AMI closed the connection")
            try:
                await self.send_action("Ping", timeout=self.ping_timeout)
            except AmiTimeout:
                raise AmiConnectionLost(
                    f"no Pong within {self.ping_timeout:g} s: connection half-open"
                ) from None

    async def _login(self) -> None:
        if self.auth == "md5":
            response = await self._pre_login_action("Challenge", [("AuthType", "MD5")])
            challenge = response.get("Challenge") or ""
            key = hashlib.md5((challenge + self._secret).encode("utf-8")).hexdigest()
            fields: list[tuple[str, object]] = [
                ("AuthType", "MD5"),
                ("Username", self.user),
                ("Key", key),
            ]
        else:
            fields = [("Username", self.user), ("Secret", self._secret)]
        try:
            await self._pre_login_action("Login", [*fields, ("Events", self.events)])
        except AmiActionFailed as exc:
            raise AmiAuthFailed(f"AMI login as {self.user!r} refused: {exc}") from None

    async def _pre_login_action(self, action: str, fields: list[tuple[str, object]]) -> Message:
        action_id = self._next_id()
        frame = serialise_action(action, [("ActionID", action_id), *fields])
        fut = self._answers.expect_response(action_id)
        try:
            await self._write(frame, before_login=True)
            # A failed login is answered after a 1 s sleep (docs/reference/asterisk.md §4.1): allow for it.
            return await self._await(fut, self.action_timeout + 1.0, action)  # type: ignore[no-any-return]
        finally:
            self._answers.forget(action_id)

    async def _read_loop(self, reader: asyncio.StreamReader, parser: FrameParser) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for msg in parser.feed(data):
                self._dispatch(msg)

    def _dispatch(self, msg: Message) -> None:
        if self._answers.route(msg):
            return
        for handler in self._handlers:
            try:
                handler(msg)
            except Exception:
                log.exception("AMI event handler failed on %s", msg.event)
