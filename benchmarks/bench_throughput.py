"""Throughput where the server is not the limit: ours beside a plain aiohttp loop, one run.

The sandbox runs in its own process with its rate limit lifted and a fixed latency per
request; the catalogue is large (2,000 services x 14 days: about 3,200 availability calls).
At each concurrency (32, 64, 128 by default), in turn against the same warmed server:

- ours: ``fetch_availability_async`` with that ``concurrency``, frames included;
- ours over httpx's own transport (one httpcore pool of that many connections), to show what
  the default ``AiohttpTransport`` beneath the client's httpx buys;
- peer: an ``aiohttp`` loop (one ``ClientSession``, a connector of that many connections, an
  ``asyncio.Semaphore``), the same catalogue calls, the bodies kept as bytes and mapped to
  the same frames by the same transform (``parse_payloads`` + ``tables_from_wire``).

For each: calls/s over the whole fetch (catalogue, calls and transform), client CPU per
call (``time.process_time`` of this process: the server's CPU is its own process's), and
the most requests the server saw in flight at once (``/_sandbox/traffic``), which shows
whether ``concurrency`` was honoured. Medians of --repeat runs (default 3).

Targets (issue 10): calls/s >= the peer's at every concurrency, <= 0.6 ms CPU per call.

    .venv/bin/python benchmarks/bench_throughput.py [--quick] [--services N] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import httpx
from _support import sandbox_process

from zimun_analytics import AsyncZimunClient
from zimun_analytics._models import Service
from zimun_analytics.fetch import fetch_availability_async
from zimun_analytics.fetch._mapping import parse_payloads, tables_from_wire
from zimun_analytics.fetch._wire import Call, Payload

NOW = "2026-03-23T08:00:00Z"
DAYS = 14
LATENCY_MS = 50.0
CONCURRENCIES = (32, 64, 128)


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    calls: int  # every request the server saw, the token's included
    slots: int
    most_in_flight: int

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * self.cpu_seconds / self.calls


async def ours(
    base_url: str, concurrency: int, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    async with AsyncZimunClient("demo", "demo-secret", base_url, transport=transport) as client:
        snapshot = await fetch_availability_async(
            client, days_ahead=DAYS, concurrency=concurrency, progress=False
        )
    return len(snapshot.slots)


async def ours_over_httpcore(base_url: str, concurrency: int) -> int:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return await ours(base_url, concurrency, httpx.AsyncHTTPTransport(limits=limits))


async def peer(base_url: str, concurrency: int) -> int:
    """The plain aiohttp loop, with the same transform into frames."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector) as http:
        basic = base64.b64encode(b"demo:demo-secret").decode()
        async with http.post(
            "/oauth/token",
            headers={"Authorization": f"Basic {basic}"},
            data={"grant_type": "client_credentials"},
        ) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        gate = asyncio.Semaphore(concurrency)

        async def get(path: str, params: dict[str, str]) -> bytes:
            async with gate, http.get(path, params=params, headers=headers) as response:
                response.raise_for_status()
                return await response.read()

        async def listing(kind: str) -> list[dict]:
            items, params = [], {"page_size": "100"}
            while True:
                page = json.loads(await get(f"/api/v1/{kind}", params))
                items += page["items"]
                if not page.get("next_page_token"):
                    return items
                params = {"page_size": "100", "page_token": page["next_page_token"]}

        organization, services, _ = await asyncio.gather(
            get("/api/v1/organization", {}), listing("services"), listing("locations")
        )
        calls = [
            Call(Service.from_json(s, endpoint="GET /services"), location_id, None, DAYS)
            for s in services
            if s["active"]
            for location_id in s["location_ids"]
        ]

        async def one(call: Call) -> Payload:
            params = {
                "service_id": call.service.service_id,
                "location_id": call.location_id,
                "days_ahead": str(DAYS),
            }
            return Payload(call, await get("/api/v1/availability", params), None)

        payloads = await asyncio.gather(*(one(call) for call in calls))
    organization_id = json.loads(organization)["organization_id"]
    wire = parse_payloads(payloads, organization_id)
    slots, _ = tables_from_wire(wire, "bench", datetime.now(UTC), organization_id)
    return len(slots)


def measure(base_url: str, runner: Callable[[str, int], Awaitable[int]], concurrency: int) -> Run:
    httpx.delete(f"{base_url}/_sandbox/traffic")
    cpu, started = time.process_time(), time.perf_counter()
    slots = asyncio.run(runner(base_url, concurrency))  # type: ignore[arg-type]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    traffic = httpx.get(f"{base_url}/_sandbox/traffic").json()
    return Run(seconds, cpu_seconds, traffic["requests"], slots, traffic["most_in_flight"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each, not three")
    parser.add_argument("--repeat", type=int, default=3, help="runs each (median)")
    parser.add_argument("--services", type=int, default=2000, help="catalogue size")
    parser.add_argument("--concurrency", type=int, nargs="*", default=list(CONCURRENCIES))
    parser.add_argument("--markdown", action="store_true", help="print a README table")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    options = {"seed": 1, "now": NOW, "services": args.services, "latency_ms": LATENCY_MS}
    rows = []
    with sandbox_process(**options, rate_limit=1e6, rate_burst=10**6) as base_url:
        measure(base_url, ours, 64)  # warm-up: the sandbox builds each calendar on first use
        for concurrency in args.concurrency:
            runs = {"ours": [], "httpcore": [], "peer": []}
            for _ in range(repeat):  # interleaved, so drift in the machine hits all alike
                runs["ours"].append(measure(base_url, ours, concurrency))
                runs["httpcore"].append(measure(base_url, ours_over_httpcore, concurrency))
                runs["peer"].append(measure(base_url, peer, concurrency))
            rows.append((concurrency, runs))
            print(f"  done: concurrency {concurrency}", flush=True)
    first = rows[0][1]["ours"][0]
    print(
        f"{first.calls} calls, {first.slots:,} slots, {LATENCY_MS:g} ms latency, "
        f"sandbox in its own process; medians of {repeat}"
    )
    head = ["concurrency", "ours calls/s", "ours over httpcore", "peer calls/s", "ours/peer",
            "ours CPU ms/call", "over httpcore", "peer CPU ms/call", "ours most in flight",
            "peer most in flight", "target"]  # fmt: skip
    lines = []
    for concurrency, runs in rows:

        def median(side: str, value: Callable[[Run], float], runs=runs) -> float:
            return statistics.median(value(run) for run in runs[side])

        ours_rate = median("ours", lambda r: r.calls_per_s)
        peer_rate = median("peer", lambda r: r.calls_per_s)
        ours_cpu = median("ours", lambda r: r.cpu_ms_per_call)
        met = ours_rate >= peer_rate and ours_cpu <= 0.6
        lines.append([
            str(concurrency),
            f"{ours_rate:,.0f}",
            f"{median('httpcore', lambda r: r.calls_per_s):,.0f}",
            f"{peer_rate:,.0f}",
            f"{ours_rate / peer_rate:.2f}",
            f"{ours_cpu:.2f}",
            f"{median('httpcore', lambda r: r.cpu_ms_per_call):.2f}",
            f"{median('peer', lambda r: r.cpu_ms_per_call):.2f}",
            f"{median('ours', lambda r: r.most_in_flight):.0f}",
            f"{median('peer', lambda r: r.most_in_flight):.0f}",
            "PASS" if met else "FAIL",
        ])  # fmt: skip
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(c) for c in col) for col in zip(head, *lines, strict=False)]
        for line in [head, *lines]:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    failed = [line[0] for line in lines if line[-1] == "FAIL"]
    print("targets: " + ("all met" if not failed else "MISSED at concurrency " + ", ".join(failed)))


if __name__ == "__main__":
    main()
