"""Headless Chromium driven over the DevTools protocol (websocket via aiohttp, already a
dependency): open a page, collect console errors and exceptions, evaluate JS, screenshot.

Debian's `chromium` is used as installed (`.ci/services`); with `CI` set its absence fails.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from typing import Any

import aiohttp

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--window-size=1280,900",
]

GUARD = """
window.__alerts = 0;
window.alert = window.confirm = window.prompt = function () { window.__alerts++; };
"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """What one page load left: console errors, exceptions, dialogs; evaluate more on it."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def eval(self, expression: str) -> Any:
        return self.browser.run(self._eval(expression))

    async def _eval(self, expression: str) -> Any:
        r = await self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.session,
        )
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r["result"].get("value")

    def screenshot(self) -> bytes:
        async def shot() -> bytes:
            r = await self.browser.send(
                "Page.captureScreenshot",
                {"format": "png", "clip": {"x": 0, "y": 0, "width": 1280, "height": 900, "scale": 0.25}},
                self.session,
            )
            return base64.b64decode(r["data"])

        return self.browser.run(shot())


class Browser:
    def __init__(self) -> None:
        path = chromium_path()
        assert path, "chromium not installed"
        self.profile = tempfile.mkdtemp(prefix="cdr1c-chromium-")
        self.proc = subprocess.Popen(
            [path, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = None
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "chromium did not start its DevTools endpoint"
        self.loop = asyncio.new_event_loop()
        self.ws_url = url
        self._id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._pages: dict[str, Page] = {}
        self.run(self._connect())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, 60))

    async def _connect(self) -> None:
        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(self.ws_url, max_msg_size=0)
        self.reader = self.loop.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._pending:
                fut = self._pending.pop(data["id"])
                if "error" in data:
                    fut.set_exception(RuntimeError(data["error"]))
                else:
                    fut.set_result(data.get("result", {}))
                continue
            page = self._pages.get(data.get("sessionId", ""))
            if page is None:
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                page.errors.append(json.dumps(params.get("args"), ensure_ascii=False)[:500])
            elif method == "Runtime.exceptionThrown":
                page.errors.append(json.dumps(params.get("exceptionDetails"), ensure_ascii=False)[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                page.errors.append(params["entry"].get("text", "")[:500])
            elif method == "Page.javascriptDialogOpening":
                page.dialogs.append(params.get("message", ""))
                self.loop.create_task(
                    self.send("Page.handleJavaScriptDialog", {"accept": False}, data["sessionId"])
                )
            elif method == "Page.loadEventFired":
                fut = getattr(page, "_loaded", None)
                if fut is not None and not fut.done():
                    fut.set_result(True)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut: asyncio.Future[Any] = self.loop.create_future()
        self._pending[self._id] = fut
        await self.ws.send_str(json.dumps(msg))
        return await fut

    def open(self, url: str) -> Page:
        return self.run(self._open(url))

    async def _open(self, url: str) -> Page:
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))[
            "sessionId"
        ]
        page = Page(self, session)
        self._pages[session] = page
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable", {}, session)
        await self.send("Page.addScriptToEvaluateOnNewDocument", {"source": GUARD}, session)
        page._loaded = self.loop.create_future()  # type: ignore[attr-defined]
        await self.send("Page.navigate", {"url": url}, session)
        await page._loaded  # type: ignore[attr-defined]
        # Late console messages: a task queued behind everything the page queued by now. The
        # protocol keeps the order, so its answer comes after any message those tasks logged.
        await page._eval("new Promise(r => setTimeout(r, 0))")
        return page

    def close(self) -> None:
        try:
            self.run(self._close())
        finally:
            self.loop.close()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    async def _close(self) -> None:
        await self.ws.close()
        await self.http.close()
        self.reader.cancel()


def png_pixels(png: bytes) -> tuple[int, int, int, bytes]:
    """Width, height, bytes per pixel and the raw pixels of an 8-bit RGB/RGBA PNG (no library)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        body = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = bytearray(height * stride)
    prev = bytearray(stride)
    i = 0
    for y in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return width, height, bpp, bytes(out)


def variance(png: bytes) -> float:
    """Variance of the grey level over a sample of pixels (0 for a blank screenshot)."""
    _, _, bpp, px = png_pixels(png)
    greys = [sum(px[i : i + 3]) / 3 for i in range(0, len(px), bpp * 97)]
    mean = sum(greys) / len(greys)
    return sum((g - mean) ** 2 for g in greys) / len(greys)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))
