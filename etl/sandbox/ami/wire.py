"""AMI framing helpers of the double: how manager.c splits, answers and frames (and `run`,
`until` for the code that drives it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
Headers = list[tuple[str, str]]


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


def split_line(line: bytes) -> tuple[str, str]:
    key, _, value = line.partition(b":")
    return key.decode("utf-8", "surrogateescape").strip(), value.lstrip(b" \t").decode(
        "utf-8", "surrogateescape"
    )


def first_value(headers: Headers, key: str) -> str:
    """manager.c __astman_get_header: first occurrence wins, keys case-insensitive."""
    lk = key.lower()
    for k, v in headers:
        if k.lower() == lk:
            return v
    return ""


def callerid(value: str) -> tuple[str, str]:
    if "<" in value and value.endswith(">"):
        name, _, num = value.rpartition("<")
        return num[:-1], name.strip().strip('"') or "<unknown>"
    return (value or "<unknown>"), "<unknown>"


def cut(data: bytes, chunks: list[int] | None) -> list[bytes]:
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
            out.append([split_line(x) for x in lines])
        lines, too_long = [], False
    if lines:
        out.append([split_line(x) for x in lines])  # an unterminated tail still counts as injected
    return out


WAIT = 30.0  # seconds: a generous bound on anything a caller waits for; only a failure waits it out


async def until(cond: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll `cond` until it holds, within a generous deadline (never a fixed sleep, then assert)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def run(coro: object, timeout: float = 4 * WAIT) -> object:
    """Run a coroutine in a fresh event loop with a hard timeout (no pytest-asyncio needed)."""

    async def bounded() -> object:
        return await asyncio.wait_for(coro, timeout)  # type: ignore[arg-type]

    return asyncio.run(bounded())
