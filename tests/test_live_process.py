"""`cdr1c live` as a process: it stops promptly on SIGTERM, even with event streams open."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from etl.sandbox.ami import TOKEN, AmiDouble, run
from tests.conftest import ROOT

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:  # an ephemeral port, released just before the child binds it
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_config(path: Path, ami_port: int, api_port: int) -> Path:
    path.write_text(
        f'[source]\nurl = "sqlite:///{path.parent / "cdr.sqlite"}"\n'
        f'[state]\nurl = "sqlite:///{path.parent / "ledger.sqlite"}"\n'
        f'[general]\nlock_dir = "{path.parent}"\n'
        f'[ami]\nport = {ami_port}\nuser = "cdr1c"\nsecret = "s3cret-ami-secret"\n'
        f'[api]\nlisten = "127.0.0.1:{api_port}"\ntoken = "{TOKEN}"\n',
        encoding="utf-8",
    )
    return path


async def wait_until_connected(
    http: aiohttp.ClientSession, base: str, proc: asyncio.subprocess.Process
) -> None:
    """Poll /health until the child is up and logged in to the double (start-up takes a while)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.returncode is None, "cdr1c live exited during start-up"
        try:
            async with http.get(f"{base}/health") as r:
                if (await r.json())["ami"]["connected"]:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("cdr1c live did not come up within 60 s")


def test_sigterm_with_an_open_event_stream_exits_within_5_s(tmp_path: Path) -> None:
    async def main() -> None:
        double = AmiDouble()
        await double.start()
        api_port = free_port()
        config = live_config(tmp_path / "cdr1c.toml", double.port, api_port)
        log = (tmp_path / "live.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "jobs", "--config", str(config), "live",
            cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        base = f"http://127.0.0.1:{api_port}"
        try:
            async with aiohttp.ClientSession() as http:
                await wait_until_connected(http, base, proc)
                async with http.get(f"{base}/v1/events", headers=AUTH) as stream:
                    assert await stream.content.readline() == b": connected\n"  # the stream is open
                    sent = time.monotonic()
                    proc.send_signal(signal.SIGTERM)
                    try:
                        code = await asyncio.wait_for(proc.wait(), 15)
                    except TimeoutError:
                        raise AssertionError("cdr1c live still runs 15 s after SIGTERM") from None
                    took = time.monotonic() - sent
                    # the stream ended cleanly (the chunked body's last chunk), not cut off
                    rest = await asyncio.wait_for(stream.content.read(), 5)
                    assert stream.content.at_eof() and b"data:" not in rest
            assert took < 5, f"cdr1c live took {took:.1f} s to exit after SIGTERM"
            assert code == 0, (tmp_path / "live.log").read_text()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            log.close()
            await double.stop()

    run(main(), timeout=120)
