"""Live component benchmarks (on demand: `.venv/bin/python -m bench.bench_live`).

1. Originate round trip: HTTP `POST /v1/calls` sent → Originate frame complete at the AMI double
   (real loopback HTTP and TCP), p50/p99 over sequential requests.
2. Screen pop fan-out: N SSE subscribers (real HTTP connections) × a burst of M events published
   at once; delivery latency from publish to `data:` line read by each subscriber, p50/p99.
3. AMI parser: events/s of `FrameParser.feed` over recorded Asterisk 22 bytes, as a ratio to a
   bare `StreamReader.readuntil(b"\\r\\n\\r\\n")` loop over the same bytes (which only splits).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import aiohttp

from etl.ami.protocol import FrameParser
from etl.sandbox.ami import TOKEN, LiveStack

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def originate_round_trip(n: int) -> dict[str, float]:
    async with LiveStack() as stack, aiohttp.ClientSession(stack.url) as http:
        lat: list[float] = []
        for i in range(n + 20):
            before = len(stack.double.action_times)
            t0 = time.perf_counter()
            async with http.post("/v1/calls", headers=AUTH, json={"from": "101", "to": "+79161234567"}) as r:
                assert r.status == 201
                await r.read()
            while len(stack.double.action_times) == before:
                await asyncio.sleep(0)
            if i >= 20:  # warm-up excluded
                lat.append((stack.double.action_times[-1] - t0) * 1000)
        return {
            "n": n,
            "p50_ms": statistics.median(lat),
            "p99_ms": pct(lat, 99),
            "max_ms": max(lat),
        }


async def sse_fan_out(subscribers: int, events: int) -> dict[str, float]:
    async with LiveStack() as stack:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(stack.url, connector=connector) as http:
            lat: list[float] = []
            ready = 0

            async def subscriber() -> None:
                nonlocal ready
                async with http.get(
                    "/v1/events", headers=AUTH, timeout=aiohttp.ClientTimeout(total=120)
                ) as r:
                    await r.content.readline()
                    await r.content.readline()
                    ready += 1
                    got = 0
                    while got < events:
                        line = await r.content.readline()
                        if line.startswith(b"data: "):
                            got += 1
                            t_pub = json.loads(line[6:])["t0"]
                            lat.append((time.perf_counter() - t_pub) * 1000)

            tasks = [asyncio.create_task(subscriber()) for _ in range(subscribers)]
            while ready < subscribers or len(stack.hub.subscribers) < subscribers:
                await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            for i in range(events):
                stack.hub.publish({"type": "ringing", "extension": "101", "n": i, "t0": time.perf_counter()})
                if i % 50 == 49:
                    await asyncio.sleep(0)  # a burst as the AMI reader would produce it, read by read
            await asyncio.gather(*tasks)
            total = time.perf_counter() - t0
            dropped = sum(s.dropped for s in stack.hub.subscribers)
        return {
            "subscribers": subscribers,
            "events": events,
            "delivered": len(lat),
            "dropped": dropped,
            "p50_ms": statistics.median(lat),
            "p99_ms": pct(lat, 99),
            "total_s": total,
        }


def _wire_bytes() -> bytes:
    d = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "asterisk22-ami-wire"
    out = b""
    for f in sorted(d.glob("*.recv.bin")):
        data = f.read_bytes()
        out += data[data.index(b"\n") + 1 :]
    if not out:
        raise SystemExit(f"no AMI captures in {d}")
    return out


async def parser_ratio(repeat: int) -> dict[str, float]:
    data = _wire_bytes() * repeat
    n_msgs = len(FrameParser().feed(data))
    chunk = 65536

    async def bare() -> float:
        reader = asyncio.StreamReader(limit=2**22)
        reader.feed_data(data)
        reader.feed_eof()
        t0 = time.perf_counter()
        count = 0
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                count += 1
        except asyncio.IncompleteReadError:
            pass
        return time.perf_counter() - t0

    def ours() -> float:
        parser = FrameParser()
        t0 = time.perf_counter()
        count = 0
        for i in range(0, len(data), chunk):
            count += len(parser.feed(data[i : i + chunk]))
        assert count == n_msgs
        return time.perf_counter() - t0

    t_bare = min([await bare() for _ in range(3)])
    t_ours = min(ours() for _ in range(3))
    return {
        "messages": n_msgs,
        "bytes": len(data),
        "bare_msgs_per_s": n_msgs / t_bare,
        "parser_msgs_per_s": n_msgs / t_ours,
        "ratio": t_bare / t_ours,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--originates", type=int, default=500)
    ap.add_argument("--subscribers", type=int, default=200)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    r1 = asyncio.run(originate_round_trip(args.originates))
    print(
        f"originate round trip (HTTP request → AMI frame at the double), n={r1['n']}: "
        f"p50 {r1['p50_ms']:.2f} ms, p99 {r1['p99_ms']:.2f} ms, max {r1['max_ms']:.2f} ms"
    )
    r2 = asyncio.run(sse_fan_out(args.subscribers, args.events))
    print(
        f"SSE fan-out {r2['subscribers']} subscribers × {r2['events']} events: "
        f"delivered {r2['delivered']}, "
        f"dropped {r2['dropped']}, p50 {r2['p50_ms']:.1f} ms, p99 {r2['p99_ms']:.1f} ms, "
        f"all delivered in {r2['total_s']:.2f} s"
    )
    r3 = asyncio.run(parser_ratio(args.repeat))
    print(
        f"AMI parser: {r3['messages']} messages / {r3['bytes'] / 1e6:.1f} MB: "
        f"{r3['parser_msgs_per_s']:,.0f} msg/s vs bare readuntil "
        f"{r3['bare_msgs_per_s']:,.0f} msg/s "
        f"→ ratio {r3['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
