"""How fast the sandbox answers availability (14 days, one service) over loopback HTTP.

Target: >= 300 requests/s, so the sandbox is never the bottleneck of later benchmarks.
Printed beside two baselines from the same run: a trivial endpoint (the HTTP floor of this
stack) and the engine called in-process (no HTTP at all).

    .venv/bin/python benchmarks/bench_sandbox.py [--requests 1000] [--threads 4]
"""

from __future__ import annotations

import argparse
import threading
import time

import httpx
from _support import sandbox_process

from zimun_analytics.sandbox import Sandbox

TARGET_PER_S = 300
PARAMS = {"service_id": "s_haircut", "location_id": "l_london", "days_ahead": 14}


def _token(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/oauth/token",
        auth=("demo", "demo-secret"),
        data={"grant_type": "client_credentials"},
    )
    return response.raise_for_status().json()["access_token"]


def _rate(base_url: str, path: str, params: dict, token: str, total: int, threads: int) -> float:
    """Requests per second with ``threads`` keep-alive connections sharing ``total`` requests."""
    per_thread = total // threads
    failures: list[int] = []

    def work() -> None:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as c:
            for _ in range(per_thread):
                status = c.get(path, params=params).status_code
                if status != 200:
                    failures.append(status)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return per_thread * threads / elapsed


def _engine_rate(sandbox: Sandbox, total: int) -> float:
    engine = sandbox.state.engine
    started = time.perf_counter()
    for _ in range(total):
        engine.availability("o_demo", PARAMS["service_id"], PARAMS["location_id"], 14, None, False)
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    # a limit far above what we send: this measures serving, not the rate limiter
    with Sandbox(seed=1, now="2026-03-23T08:00:00Z", rate_limit=1e6, rate_burst=10**6) as sb:
        token = _token(sb.base_url)
        _rate(sb.base_url, "/api/v1/availability", PARAMS, token, 50, 1)  # warm the caches
        rows = [
            (
                "availability, 1 connection",
                _rate(sb.base_url, "/api/v1/availability", PARAMS, token, args.requests, 1),
            ),
            (
                f"availability, {args.threads} connections",
                _rate(
                    sb.base_url, "/api/v1/availability", PARAMS, token, args.requests, args.threads
                ),
            ),
            (
                "baseline: GET /_sandbox/clock, 1 connection",
                _rate(sb.base_url, "/_sandbox/clock", {}, token, args.requests, 1),
            ),
            ("baseline: engine in-process, no HTTP", _engine_rate(sb, args.requests)),
        ]
    flags = {"now": "2026-03-23T08:00:00Z", "rate_limit": 1_000_000, "rate_burst": 1_000_000}
    with sandbox_process(**flags) as base_url:
        token = _token(base_url)
        _rate(base_url, "/api/v1/availability", PARAMS, token, 50, 1)
        rows.insert(
            0,
            (
                "availability, sandbox in its own process, 1 connection",
                _rate(base_url, "/api/v1/availability", PARAMS, token, args.requests, 1),
            ),
        )
        rows.insert(
            1,
            (
                f"availability, sandbox in its own process, {args.threads} connections",
                _rate(base_url, "/api/v1/availability", PARAMS, token, args.requests, args.threads),
            ),
        )
    rows[2] = ("availability, embedded (client shares the GIL), 1 connection", rows[2][1])
    rows[3] = (f"availability, embedded, {args.threads} connections", rows[3][1])
    print(f"{'what':64} {'requests/s':>12}")
    for name, rate in rows:
        print(f"{name:64} {rate:12.0f}")
    verdict = "met" if rows[0][1] >= TARGET_PER_S else "MISSED"
    print(f"target >= {TARGET_PER_S}/s (own process, one connection): {verdict}")


if __name__ == "__main__":
    main()
