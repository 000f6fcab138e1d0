"""The 1C stand-in's HTTP plumbing: keep-alive, HTTP Basic (§2.1), injected faults, sessions.

Each request is parsed into a `routes.Request` and answered with what `routes.dispatch` returns.
"""

from __future__ import annotations

import base64
import socket
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import unquote

from .publication import Publication
from .routes import Reply, Request, dispatch, json_reply

INTERNAL_ERROR = {
    "odata.error": {"code": "-1", "message": {"lang": "ru", "value": "Внутренняя ошибка сервиса OData"}}
}


def make_server(stand: Publication, host: str, port: int) -> ThreadingHTTPServer:
    return _Server((host, port), _handler_for(stand))


def parse_query(raw_query: str) -> dict[str, str]:
    query: dict[str, str] = {}
    for part in raw_query.split("&") if raw_query else []:
        k, _, v = part.partition("=")
        query[unquote(k)] = unquote(v)  # `+` is NOT a space for 1C (§2.2)
    return query


def _handler_for(stand: Publication) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as IIS/Apache publications do
        server_version = "1C-Publication/8.3"
        wbufsize = -1  # headers and body leave in one segment (no Nagle/delayed-ACK stalls)

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.handle_any("GET")

        def do_POST(self) -> None:
            self.handle_any("POST")

        def do_PATCH(self) -> None:
            self.handle_any("PATCH")

        def do_DELETE(self) -> None:
            self.handle_any("DELETE")

        def send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.ctype)
            self.send_header("Content-Length", str(len(reply.body)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(reply.body)

        def wants_json(self, query: dict[str, str]) -> bool:
            fmt = query.get("$format", "")
            return (
                fmt.startswith("json")
                or fmt.startswith("application/json")
                or ("application/json" in (self.headers.get("Accept") or ""))
            )

        def authorised(self) -> bool:
            header = self.headers.get("Authorization") or ""
            if header.startswith("Basic "):
                try:
                    user, _, pw = base64.b64decode(header[6:]).decode("utf-8").partition(":")
                except (ValueError, UnicodeDecodeError):
                    return False  # e.g. a cp1251 login (IIS: 401.5, §2.1)
                return user == stand.user and pw == stand.password
            return False

        def handle_any(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            f = stand.faults
            if stand.first_request() and f.first_stall:
                time.sleep(f.first_stall)
            if f.latency:
                time.sleep(f.latency)
            if stand.roll(f.error_rate):
                stand.stats.errors_injected += 1
                self.send(json_reply(503 if stand.roll(0.5) else 500, INTERNAL_ERROR))
                return
            drop = stand.roll(f.drop_rate)
            drop_after = drop and stand.roll(0.5)
            if drop and not drop_after:
                stand.stats.drops_injected += 1
                self.close_connection = True
                return
            if drop_after:
                stand.stats.drops_injected += 1
                self.wfile = _Sink()  # type: ignore[assignment]  # the answer is lost on the way
                self.close_connection = True
            try:
                self.answer(method, body)
            finally:
                if drop_after:
                    self.close_connection = True

        def answer(self, method: str, body: bytes) -> None:
            raw_path, _, raw_query = self.path.partition("?")
            query = parse_query(raw_query)
            as_json = self.wants_json(query)
            if not self.authorised():
                self.send(Reply(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="1C"'}))
                return
            if self.headers.get("IBSession") == "start":
                session = {"Set-Cookie": f"ibsession={uuid.uuid4().hex}; Path=/"}
            else:
                session = {}
            stand.stats.queries.append(raw_query)
            host, port = cast("tuple[str, int]", self.server.server_address)[:2]
            url = f"http://{host!s}:{port}{stand.base}"
            request = Request(method, unquote(raw_path), raw_query, query, body, as_json, session, url)
            self.send(dispatch(stand, request))

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request (the kill -9 test) is not the stand-in's problem


class _Sink:
    """Swallows an answer, so the client sees a connection closed before any response."""

    closed = False

    def close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        pass
