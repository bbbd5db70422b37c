"""Bulk availability through ZimunClient against a sandbox limited to 50 requests/s.

Targets: achieved rate >= 90 % of the limit and <= 2 % of responses 429. Printed beside a naive
async client in the same run: the same 16 workers, no limiter, waiting out each 429's
Retry-After itself (what a quick script would do).

    .venv/bin/python benchmarks/bench_client.py [--calls 1000] [--workers 16]
"""

from __future__ import annotations

import argparse
import time

import anyio
import httpx

from zimun_analytics import AsyncZimunClient
from zimun_analytics.sandbox import Sandbox

LIMIT_PER_S = 50
SERVICES = [
    ("s_eyebrow", None),
    ("s_haircut", "l_london"),
    ("s_massage_60", "l_munich"),
    ("s_color", "l_berlin"),
    ("s_facial", None),
    ("s_physio", None),
]


class CountingTransport(httpx.AsyncHTTPTransport):
    """A real transport that counts responses by status."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path.startswith("/api/"):
            self.statuses.append(response.status_code)
        return response


async def _run_workers(calls: int, workers: int, call) -> float:
    queue = list(range(calls))
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            n = queue.pop()
            await call(n)

    async with anyio.create_task_group() as group:
        for _ in range(workers):
            group.start_soon(worker)
    return time.perf_counter() - started


async def ours(base_url: str, calls: int, workers: int) -> tuple[float, list[int]]:
    transport = CountingTransport()
    async with AsyncZimunClient("demo", "demo-secret", base_url, transport=transport) as client:

        async def call(n: int) -> None:
            service_id, location_id = SERVICES[n % len(SERVICES)]
            await client.availability(service_id, days_ahead=14, location_id=location_id)

        elapsed = await _run_workers(calls, workers, call)
    return elapsed, transport.statuses


async def naive(base_url: str, calls: int, workers: int) -> tuple[float, list[int]]:
    transport = CountingTransport()
    async with httpx.AsyncClient(base_url=base_url, transport=transport) as http:
        token = (
            await http.post(
                "/oauth/token",
                auth=("demo", "demo-secret"),
                data={"grant_type": "client_credentials"},
            )
        ).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"

        async def call(n: int) -> None:
            service_id, location_id = SERVICES[n % len(SERVICES)]
            params = {"service_id": service_id, "days_ahead": 14}
            if location_id:
                params["location_id"] = location_id
            while (
                response := await http.get("/api/v1/availability", params=params)
            ).status_code == 429:
                await anyio.sleep(float(response.headers["Retry-After"]))
            response.raise_for_status()

        elapsed = await _run_workers(calls, workers, call)
    return elapsed, transport.statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    rows = []
    for name, runner in [("ZimunClient (shared limiter)", ours), ("naive: no limiter", naive)]:
        with Sandbox(seed=1, now="2026-03-23T08:00:00Z", rate_limit=LIMIT_PER_S) as sb:
            elapsed, statuses = anyio.run(runner, sb.base_url, args.calls, args.workers)
        share_429 = statuses.count(429) / len(statuses)
        rows.append((name, args.calls / elapsed, share_429, len(statuses)))
    print(
        f"{args.calls} availability calls, {args.workers} workers, sandbox limit "
        f"{LIMIT_PER_S}/s (burst 100)"
    )
    print(f"{'client':32} {'calls/s':>8} {'of limit':>9} {'429 share':>10} {'requests':>9}")
    for name, rate, share, sent in rows:
        print(f"{name:32} {rate:8.1f} {rate / LIMIT_PER_S:9.0%} {share:10.1%} {sent:9d}")
    ours_rate, ours_share = rows[0][1], rows[0][2]
    met = ours_rate >= 0.9 * LIMIT_PER_S and ours_share <= 0.02
    print(f"targets (>= 90 % of the limit, <= 2 % 429s): {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
