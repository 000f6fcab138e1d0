"""AMI framing: bytes → messages and actions → bytes, with the safety checks in between.

Reading follows what Asterisk itself writes and accepts (docs/reference/asterisk.md §4.1, §7):

- a line ends at LF, with or without a CR before it; a bare CR is *not* a line break (Asterisk
  echoes raw CRs inside OriginateResponse and Cdr values, §5 "inj4"), so `splitlines()` is never
  used;
- an empty line ends a message; bytes are buffered until a whole message is there and only then
  decoded, so a UTF-8 character split across TCP reads is never lost;
- a message that is not valid UTF-8 (cp1251 caller names pass through byte for byte, §7) is
  decoded value by value: UTF-8 where it is valid, else cp1251, else the bytes are kept as
  surrogate escapes. No byte is dropped;
- keys are case-insensitive and, for single-valued access, the first occurrence wins.

Writing refuses, before a single byte goes out, any key or value that could add a header or an
action (CR, LF, NUL, other control characters, Unicode line separators) and any line over the
server's line limit (docs/reference/asterisk.md §5: Asterisk discards lines over 1024 bytes and treats bare LF
as a line end, so one unescaped value can run `Action: Command`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from etl.errors import AmiError, AmiUnsafeValue

# Asterisk discards a line longer than 1024 bytes (manager.c get_input); stay clearly below it,
# CRLF included, so no value can be silently cut or make the server drop the action.
MAX_LINE_BYTES = 1000
MAX_HEADERS = 128  # AST_MAX_MANHEADERS
MAX_PENDING_BYTES = 8 * 1024 * 1024  # a peer that never ends a message is not buffered forever

_END = re.compile(rb"\n\r?\n")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}\Z")
# C0 and C1 controls except TAB, DEL, and the Unicode line/paragraph separators: anything a
# reader (Asterisk, a log viewer, Python's splitlines) could take for a line break or a string end.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


class Message:
    """One AMI message: ordered `(key, value)` headers, case-insensitive first-wins lookup."""

    __slots__ = ("_first", "headers")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        first: dict[str, str] = {}
        for k, v in headers:
            lk = k.lower()
            if lk not in first:
                first[lk] = v
        self._first = first

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._first.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeatable key (`Variable`, `Output`), in order."""
        lk = key.lower()
        return [v for k, v in self.headers if k.lower() == lk]

    @property
    def event(self) -> str | None:
        return self._first.get("event")

    @property
    def response(self) -> str | None:
        return self._first.get("response")

    @property
    def action_id(self) -> str | None:
        return self._first.get("actionid")

    def as_dict(self) -> dict[str, str]:
        """First value of every key, original spelling of the first occurrence."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            out.setdefault(k, v)
        return out

    def __repr__(self) -> str:
        return f"Message({self.headers!r})"


def decode_value(raw: bytes) -> str:
    """UTF-8 if valid, else cp1251, else UTF-8 with surrogate escapes (never drops a byte)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1251")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape")


def _parse_text(text: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            continue
        key, sep, value = line.partition(":")
        if sep:
            headers.append((key.rstrip(" \t"), value.lstrip(" \t")))
        else:
            headers.append(("", line))  # a line without a colon is kept, not dropped
    return headers


def _parse_bytes(body: bytes) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in body.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        key, sep, value = line.partition(b":")
        if sep:
            headers.append((decode_value(key).rstrip(" \t"), decode_value(value.lstrip(b" \t"))))
        else:
            headers.append(("", decode_value(line)))
    return headers


def parse_message(body: bytes) -> Message:
    """Parse the bytes of one message (without its terminating empty line)."""
    try:
        headers = _parse_text(body.decode("utf-8"))
    except UnicodeDecodeError:
        headers = _parse_bytes(body)
    return Message(headers)


class FrameParser:
    """Incremental reader: `feed(bytes)` returns every message completed by those bytes."""

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        # Resume the search a little before the old end: a terminator may straddle two reads.
        start = max(0, len(buf) - 2)
        buf += data
        out: list[Message] = []
        pos = 0
        search = _END.search
        while True:
            m = search(buf, max(pos, start))
            if m is None:
                break
            body = bytes(buf[pos : m.start()])
            pos = m.end()
            if body.strip(b"\r\n"):
                out.append(parse_message(body))
        if pos:
            del buf[:pos]
        if len(buf) > MAX_PENDING_BYTES:
            buf.clear()
            raise AmiError(f"no end of message after {MAX_PENDING_BYTES} bytes; dropping the connection")
        return out


def check_value(key: str, value: str) -> None:
    """Raise `AmiUnsafeValue` unless `key: value` is one harmless line on the wire."""
    if not _KEY.match(key):
        raise AmiUnsafeValue("not a valid AMI header name", key[:40])
    bad = _UNSAFE.search(value)
    if bad:
        raise AmiUnsafeValue(f"contains a control or line-break character U+{ord(bad.group()):04X}", key)
    try:
        size = len(key) + 4 + len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise AmiUnsafeValue("contains text that is not valid Unicode", key) from None
    if size > MAX_LINE_BYTES:
        raise AmiUnsafeValue(f"line would be {size} bytes, over the {MAX_LINE_BYTES}-byte limit", key)


def serialise_action(action: str, fields: Iterable[tuple[str, object]]) -> bytes:
    """`Action: X` + fields as CRLF lines + empty line, after checking every key and value."""
    lines = [("Action", action)]
    for key, value in fields:
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int):
            text = str(value)
        else:
            raise AmiUnsafeValue(f"expected text or a number, got {type(value).__name__}", key)
        lines.append((key, text))
    if len(lines) > MAX_HEADERS:
        raise AmiUnsafeValue(f"{len(lines)} headers, over Asterisk's limit of {MAX_HEADERS}")
    for key, text in lines:
        check_value(key, text)
    return "".join(f"{k}: {v}\r\n" for k, v in lines).encode("utf-8") + b"\r\n"


def iter_messages(data: bytes) -> Iterator[Message]:
    """Every whole message in `data` (a recorded stream after its banner line)."""
    yield from FrameParser().feed(data)
