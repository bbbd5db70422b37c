"""Bulk fetch, JSON -> table mapping, snapshot history and fetch memory, each beside a baseline.

Every figure is printed beside a baseline measured in the same run:

1. fetch_availability, 200 services x 14 days from a sandbox answering in 50 ms (rate limit
   lifted), vs a sequential `requests` loop like the seed's example (token once, one GET per
   service x location, rows as a list of dicts, a DataFrame at the end). Target >= 15x faster.
   Measured twice: the sandbox embedded (its thread shares the GIL with the client) and the
   sandbox in its own process (as `zimun-analytics sandbox` runs it; closer to a remote API).
2. tables_from_payloads on >= 1,000,000 slots of real sandbox response bodies (raw JSON bytes,
   as the fetch keeps them) vs json.loads + pandas.json_normalize plus the minimal
   post-processing to comparable columns, each the median of three runs. Targets >= 1,000,000
   slots/s and >= 5x json_normalize.
3. SnapshotStore.history(services=[one]) over 365 daily snapshots of 200 services vs
   pd.read_parquet of every slot file then filtering. Targets <= 1 s and >= 10x faster.
4. Peak memory of a 1,000-service x 60-day fetch (tracemalloc peak; ru_maxrss growth) beside
   the memory of the frames it returns. Reported, no target. Runs first, in a fresh process
   state, against a sandbox in its own process so that only the client is measured.

    .venv/bin/python benchmarks/bench_fetch.py [--quick] [--store DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio
import numpy as np
import pandas as pd
import pyarrow as pa
import requests
from _support import sandbox_process

from zimun_analytics import SnapshotStore, ZimunClient, fetch_availability
from zimun_analytics._schema import AvailabilitySnapshot
from zimun_analytics.client import AsyncZimunClient
from zimun_analytics.fetch._mapping import tables_from_payloads
from zimun_analytics.fetch._wire import Call, Payload
from zimun_analytics.sandbox import Sandbox

NOW = "2026-03-23T08:00:00Z"
UNLIMITED = {"rate_limit": 1e6, "rate_burst": 10**6}  # this is about concurrency, not pacing
LATENCY_MS, JITTER_MS = 50.0, 10.0
TARGET_FETCH_SPEEDUP = 15
TARGET_SLOTS_PER_S = 1_000_000
TARGET_TRANSFORM_SPEEDUP = 5
TARGET_HISTORY_S = 1.0
TARGET_HISTORY_SPEEDUP = 10
MB = 1024 * 1024


@dataclass(frozen=True)
class Sizes:
    fetch_services: int = 200
    fetch_days: int = 14
    transform_slots: int = 1_000_000
    snapshots: int = 365
    memory_services: int = 1000
    memory_days: int = 60


QUICK = Sizes(
    fetch_services=20, transform_slots=100_000, snapshots=10, memory_services=100, memory_days=60
)


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


# -- sandboxes ---------------------------------------------------------------------------------


def _process_options(services: int, latency_ms: float = 0.0, jitter_ms: float = 0.0) -> dict:
    return {
        "now": NOW,
        "services": services,
        "latency_ms": latency_ms,
        "latency_jitter_ms": jitter_ms,
        "rate_limit": 1_000_000,
        "rate_burst": 1_000_000,
    }


# -- 1. fetch speed ----------------------------------------------------------------------------


def sequential_fetch(base_url: str, client_id: str, secret: str, days: int):
    """The seed's way, one call after another: token, catalogue, a GET per service x location.

    A keep-alive ``requests.Session`` (the seed calls bare ``requests.get``): a slightly
    stronger baseline. Returns the frame and the number of availability calls.
    """
    with requests.Session() as http:
        token = http.post(
            f"{base_url}/oauth/token",
            auth=(client_id, secret),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        services, page = [], None
        while True:
            params = {"page_size": 100, **({"page_token": page} if page else {})}
            body = http.get(f"{base_url}/api/v1/services", params=params).json()
            services += body["items"]
            page = body.get("next_page_token")
            if not page:
                break
        organization_id = http.get(f"{base_url}/api/v1/organization").json()["organization_id"]
        rows, calls = [], 0
        snapshot_id = f"seq-{time.time_ns()}"
        for service in services:
            if not service["active"]:
                continue
            for location_id in service["location_ids"]:
                params = {
                    "service_id": service["service_id"],
                    "location_id": location_id,
                    "days_ahead": days,
                }
                response = http.get(f"{base_url}/api/v1/availability", params=params)
                response.raise_for_status()
                calls += 1
                data = response.json()
                fetched_at = datetime.fromisoformat(data["generated_at"].replace("Z", "+00:00"))
                for day in data["days"]:
                    for slot in day["slots"]:
                        start = datetime.fromisoformat(slot["start"])  # local wall clock
                        start_utc = start.astimezone(UTC)
                        rows.append(
                            {
                                "snapshot_id": snapshot_id,
                                "fetched_at": fetched_at,
                                "organization_id": organization_id,
                                "location_id": data["location_id"],
                                "service_id": data["service_id"],
                                "service_name": service["name"],
                                "timezone": data["timezone"],
                                "slot_start": start_utc,
                                "slot_end": datetime.fromisoformat(slot["end"]).astimezone(UTC),
                                "local_date": start.date(),
                                "local_hour": start.hour,
                                "weekday": start.weekday(),
                                "duration_minutes": data["slot_duration_minutes"],
                                "capacity": slot["capacity"],
                                "available": slot["available"],
                                "lead_time_hours": (start_utc - fetched_at).total_seconds() / 3600,
                            }
                        )
        return pd.DataFrame(rows), calls


def _fetch_pair(base_url: str, client_id: str, secret: str, days: int) -> dict:
    """Warm the sandbox (its day plans are cached), then time the library (median of three
    runs: a 2-3 s run is noisy) and the loop (one run of ~300 sequential calls)."""
    with ZimunClient(client_id, secret, base_url) as client:
        fetch_availability(client, days_ahead=days, progress=False)  # warm-up, not timed
        runs = [
            _timed(fetch_availability, client, days_ahead=days, progress=False) for _ in range(3)
        ]
        seconds, snapshot = sorted(runs, key=lambda run: run[0])[1]  # the median of three
        if not snapshot.complete:
            raise SystemExit(f"the fetch had errors:\n{snapshot.errors}")
        payloads = client.run(_capture, days)
    seq_seconds, (frame, seq_calls) = _timed(sequential_fetch, base_url, client_id, secret, days)
    return {
        "seconds": seconds,
        "calls": snapshot.meta["counts"]["calls"],
        "rows": len(snapshot.slots),
        "seq_seconds": seq_seconds,
        "seq_calls": seq_calls,
        "seq_rows": len(frame),
        "snapshot": snapshot,
        "payloads": payloads,
    }


async def _capture(client: AsyncZimunClient, days: int) -> list[Payload]:
    """Real availability payloads, one per active service x location, as the fetch sees them."""
    services = [service async for service in client.services() if service.active]
    payloads: list[Payload] = []
    limit = anyio.Semaphore(16)

    async def one(service, location_id: str) -> None:
        async with limit:
            body, request_id = await client.availability_body(service.service_id, days, location_id)
        payloads.append(Payload(Call(service, location_id, None, days), body, request_id))

    async with anyio.create_task_group() as group:
        for service in services:
            for location_id in service.location_ids:
                group.start_soon(one, service, location_id)
    return payloads


def bench_fetch(sizes: Sizes) -> tuple[dict, dict]:
    options = {"services": sizes.fetch_services, "latency_ms": LATENCY_MS}
    with Sandbox(seed=1, now=NOW, latency_jitter_ms=JITTER_MS, **options, **UNLIMITED) as sb:
        embedded = _fetch_pair(sb.base_url, sb.client_id, sb.client_secret, sizes.fetch_days)
    flags = _process_options(sizes.fetch_services, LATENCY_MS, JITTER_MS)
    with sandbox_process(**flags) as base_url:
        own = _fetch_pair(base_url, "demo", "demo-secret", sizes.fetch_days)
    return embedded, own


# -- 2. JSON -> DataFrame ----------------------------------------------------------------------


def _slot_count(payloads: list[Payload]) -> int:
    return sum(len(day["slots"]) for p in payloads for day in p.decoded()["days"])


def repeat_payloads(captured: list[Payload], slots: int) -> list[Payload]:
    """Copies of the captured payloads up to ``slots`` slots; each copy under its own service
    id (in its body and its call), so every slot stays a distinct row (no de-duplication
    shrinks the output)."""
    per_round = _slot_count(captured)
    rounds = -(-slots // per_round)
    out = []
    for k in range(rounds):
        for p in captured:
            if k == 0:
                out.append(p)
                continue
            data = p.decoded()
            # a copy answers a call of its own: a body under another id than its call's is
            # refused by the mapping (it would label rows with a service nobody asked for)
            service = replace(p.call.service, service_id=f"{data['service_id']}.r{k}")
            data["service_id"] = service.service_id
            out.append(Payload.from_data(replace(p.call, service=service), data, p.request_id))
    return out


META = ["organization_id", "service_id", "location_id", "timezone", "slot_duration_minutes"]


def json_normalize_frame(payloads: list[Payload], snapshot_id: str, fetched_at: datetime):
    """The pandas way: decode each body, json_normalize, parse instants, derive local columns."""
    datas = [json.loads(p.body) for p in payloads]
    names = {
        data["service_id"]: p.call.service.name for data, p in zip(datas, payloads, strict=True)
    }
    frame = pd.json_normalize(datas, record_path=["days", "slots"], meta=META)
    frame["slot_start"] = pd.to_datetime(frame.pop("start"), utc=True, format="ISO8601")
    frame["slot_end"] = pd.to_datetime(frame.pop("end"), utc=True, format="ISO8601")
    local_date = np.empty(len(frame), dtype="datetime64[us]")
    local_hour = np.empty(len(frame), dtype=np.int8)
    weekday = np.empty(len(frame), dtype=np.int8)
    for zone in frame["timezone"].unique():
        mask = (frame["timezone"] == zone).to_numpy()
        local = frame.loc[mask, "slot_start"].dt.tz_convert(zone).dt.tz_localize(None)
        local_date[mask] = local.dt.normalize().to_numpy()
        local_hour[mask] = local.dt.hour.to_numpy()
        weekday[mask] = local.dt.day_of_week.to_numpy()
    frame["local_date"], frame["local_hour"], frame["weekday"] = local_date, local_hour, weekday
    frame["snapshot_id"] = snapshot_id
    frame["fetched_at"] = pd.Timestamp(fetched_at)
    frame["service_name"] = frame["service_id"].map(names)
    frame["lead_time_hours"] = (frame["slot_start"] - frame["fetched_at"]).dt.total_seconds() / 3600
    return frame.rename(columns={"slot_duration_minutes": "duration_minutes"})


def _median_of_three(function, *args) -> tuple[float, int]:
    """Median seconds of three runs (a single run swings by 2x on a shared 2-core machine)
    and the row count of the output."""
    timings = []
    for _ in range(3):
        gc.collect()
        seconds, result = _timed(function, *args)
        rows = len(result[0] if isinstance(result, tuple) else result)
        del result
        timings.append(seconds)
    return sorted(timings)[1], rows


def bench_transform(captured: list[Payload], sizes: Sizes) -> dict:
    payloads = repeat_payloads(captured, sizes.transform_slots)
    fetched_at = datetime(2026, 3, 23, 8, tzinfo=UTC)
    tables_from_payloads(payloads[:20], "warm", fetched_at, "o_demo")  # warm-up (imports, tz db)
    json_normalize_frame(payloads[:20], "warm", fetched_at)
    seconds, rows = _median_of_three(tables_from_payloads, payloads, "bench", fetched_at, "o_demo")
    base_seconds, base_rows = _median_of_three(json_normalize_frame, payloads, "bench", fetched_at)
    return {
        "payloads": len(payloads),
        "slots": _slot_count(payloads),
        "seconds": seconds,
        "rows": rows,
        "base_seconds": base_seconds,
        "base_rows": base_rows,
    }


# -- 3. history() ------------------------------------------------------------------------------


def _shifted(template: AvailabilitySnapshot, k: int) -> AvailabilitySnapshot:
    """The template fetched ``k`` days later: same slots, one more day ahead, new id."""
    shift = pd.Timedelta(days=k)
    fetched = pd.Timestamp(template.meta["fetched_at"]) + shift
    snapshot_id = f"{fetched:%Y%m%dT%H%M%SZ}-bench"
    slots, days = template.slots.copy(), template.days.copy()
    for frame in (slots, days):
        frame["snapshot_id"] = snapshot_id
        frame["fetched_at"] = fetched
        frame["local_date"] += shift
    for name in ("slot_start", "slot_end"):
        slots[name] += shift
    slots["weekday"] = (slots["weekday"] + k % 7) % 7
    meta = {**template.meta, "snapshot_id": snapshot_id, "fetched_at": fetched.isoformat()}
    return AvailabilitySnapshot(slots, days, template.errors.iloc[:0], meta)


def build_store(store: SnapshotStore, template: AvailabilitySnapshot, count: int) -> int:
    """Save ``count`` daily snapshots through SnapshotStore.save; ids already stored are kept."""
    stored = set(store.list()["snapshot_id"])
    saved = 0
    with store.lock():  # one lock for the whole build, not one per save
        for k in range(count):
            snapshot = _shifted(template, k)
            if snapshot.snapshot_id not in stored:
                store.save(snapshot)
                saved += 1
    return saved


def read_all_then_filter(store: SnapshotStore, service_id: str) -> pd.DataFrame:
    # partitioning=None: the files' own snapshot_id column, not one parsed from the path
    frame = pd.read_parquet(store.files("slots"), partitioning=None)
    return frame[frame["service_id"] == service_id]


def bench_history(template: AvailabilitySnapshot, sizes: Sizes, root: str) -> dict:
    store = SnapshotStore(root)
    build_seconds, saved = _timed(build_store, store, template, sizes.snapshots)
    listing = store.list()
    service_id = sorted(template.slots["service_id"].unique())[0]
    store.history(services=[service_id])  # warm-up: page cache, imports
    seconds, frame = _timed(store.history, services=[service_id])
    rows = len(frame)
    del frame
    gc.collect()
    base_seconds, base = _timed(read_all_then_filter, store, service_id)
    base_rows = len(base)
    del base
    gc.collect()
    return {
        "service_id": service_id,
        "snapshots": len(listing),
        "total_rows": int(listing["n_slots"].sum()),
        "saved": saved,
        "build_seconds": build_seconds,
        "seconds": seconds,
        "rows": rows,
        "base_seconds": base_seconds,
        "base_rows": base_rows,
    }


# -- 4. memory ---------------------------------------------------------------------------------


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench_memory(sizes: Sizes) -> dict:
    """Two fetches: one plain (ru_maxrss growth, time), one under tracemalloc (its peak)."""
    with sandbox_process(**_process_options(sizes.memory_services)) as base_url:
        with ZimunClient("demo", "demo-secret", base_url) as client:
            gc.collect()
            before = _maxrss_mb()
            seconds, snapshot = _timed(
                fetch_availability, client, days_ahead=sizes.memory_days, progress=False
            )
            rss_growth = _maxrss_mb() - before
            arrow_peak = pa.default_memory_pool().max_memory()  # first Arrow user of the process
            frames = sum(
                frame.memory_usage(deep=True).sum()
                for frame in (snapshot.slots, snapshot.days, snapshot.errors)
            )
            rows, calls = len(snapshot.slots), snapshot.meta["counts"]["calls"]
            del snapshot
            gc.collect()
            tracemalloc.start()
            fetch_availability(client, days_ahead=sizes.memory_days, progress=False)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return {
        "seconds": seconds,
        "rows": rows,
        "calls": calls,
        "rss_growth_mb": rss_growth,
        "peak_mb": peak / MB,
        "arrow_peak_mb": arrow_peak / MB,
        "frames_mb": frames / MB,
    }


# -- report ------------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(sizes: Sizes, fetch: tuple[dict, dict], transform: dict, history: dict, memory: dict):
    width = 60
    print(f"{'what':{width}} {'this library':>16} {'baseline':>16} {'ratio':>8}")

    def line(what: str, ours: str, base: str = "", ratio: str = "") -> None:
        print(f"{what:{width}} {ours:>16} {base:>16} {ratio:>8}")

    head = f"{sizes.fetch_services} services x {sizes.fetch_days} d, {LATENCY_MS:.0f} ms"
    print(f"1. fetch, {head}: fetch_availability vs sequential requests loop")
    for name, run in zip(
        ["sandbox embedded (shares GIL)", "sandbox in own process"], fetch, strict=True
    ):
        speedup = run["seq_seconds"] / run["seconds"]
        line(f"   {name}: seconds", f"{run['seconds']:.2f} s", f"{run['seq_seconds']:.2f} s")
        line("     speed-up", "", "", f"{speedup:.1f}x")
        line("     availability calls", f"{run['calls']}", f"{run['seq_calls']}")
        line("     slot rows", f"{run['rows']:,}", f"{run['seq_rows']:,}")
    print(
        f"2. JSON -> DataFrame, {transform['payloads']:,} payloads "
        f"({transform['slots']:,} slots): tables_from_payloads vs json.loads + json_normalize"
        " (median of 3)"
    )
    rate, base_rate = (
        transform["slots"] / transform["seconds"],
        transform["slots"] / transform["base_seconds"],
    )
    line("   seconds", f"{transform['seconds']:.2f} s", f"{transform['base_seconds']:.2f} s")
    line("   slots/s", f"{rate:,.0f}", f"{base_rate:,.0f}", f"{rate / base_rate:.1f}x")
    line("   slot rows out", f"{transform['rows']:,}", f"{transform['base_rows']:,}")
    print(
        f"3. history(services=[{history['service_id']}]) over {history['snapshots']} snapshots "
        f"({history['total_rows']:,} slot rows) vs pd.read_parquet(all) + filter"
    )
    line(
        "   seconds",
        f"{history['seconds']:.2f} s",
        f"{history['base_seconds']:.2f} s",
        f"{history['base_seconds'] / history['seconds']:.1f}x",
    )
    line("   rows returned", f"{history['rows']:,}", f"{history['base_rows']:,}")
    built = f"{history['build_seconds']:.1f} s" if history["saved"] else "reused"
    line(f"   store build: {history['saved']} snapshots saved via save()", built)
    print(
        f"4. memory, {sizes.memory_services} services x {sizes.memory_days} d "
        "(sandbox in its own process; figures are the client's)"
    )
    line("   fetch_availability seconds", f"{memory['seconds']:.1f} s")
    line("   availability calls / slot rows", f"{memory['calls']:,} / {memory['rows']:,}")
    line(
        "   tracemalloc peak vs frames' deep memory_usage",
        f"{memory['peak_mb']:.0f} MB",
        f"{memory['frames_mb']:.0f} MB",
        f"{memory['peak_mb'] / memory['frames_mb']:.1f}x",
    )
    line("   Arrow memory pool peak (not seen by tracemalloc)", f"{memory['arrow_peak_mb']:.0f} MB")
    line(
        "   ru_maxrss growth vs frames' deep memory_usage",
        f"{memory['rss_growth_mb']:.0f} MB",
        f"{memory['frames_mb']:.0f} MB",
        f"{memory['rss_growth_mb'] / memory['frames_mb']:.1f}x",
    )
    embedded, own = (run["seq_seconds"] / run["seconds"] for run in fetch)
    print(
        f"target fetch >= {TARGET_FETCH_SPEEDUP}x the sequential loop: embedded {embedded:.1f}x "
        f"{_verdict(embedded >= TARGET_FETCH_SPEEDUP)}, own process {own:.1f}x "
        f"{_verdict(own >= TARGET_FETCH_SPEEDUP)}"
    )
    print(
        f"target transform >= {TARGET_SLOTS_PER_S:,} slots/s: "
        f"{_verdict(rate >= TARGET_SLOTS_PER_S)}"
        f"; >= {TARGET_TRANSFORM_SPEEDUP}x json_normalize: "
        f"{_verdict(rate >= TARGET_TRANSFORM_SPEEDUP * base_rate)}"
    )
    fast = history["seconds"] <= TARGET_HISTORY_S
    ratio = history["base_seconds"] / history["seconds"] >= TARGET_HISTORY_SPEEDUP
    print(
        f"target history <= {TARGET_HISTORY_S:.0f} s: {_verdict(fast)}; "
        f">= {TARGET_HISTORY_SPEEDUP}x read-all-then-filter: {_verdict(ratio)}"
    )
    print(
        f"memory: no target; peak {memory['peak_mb']:.0f} MB for {memory['rows']:,} slot rows "
        f"({memory['peak_mb'] * MB / memory['rows']:.0f} B/row)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--store", help="snapshot store folder to keep and reuse (default: a temp dir)"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    started = time.perf_counter()
    # memory first: ru_maxrss is a high-water mark, later sections would hide its growth
    memory = bench_memory(sizes)
    print(f"[memory done, {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    fetch = bench_fetch(sizes)
    print(f"[fetch done, {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    transform = bench_transform(fetch[0]["payloads"], sizes)
    print(f"[transform done, {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    template = fetch[0]["snapshot"]
    for run in fetch:
        run.pop("payloads"), run.pop("snapshot")
    if args.store:
        history = bench_history(template, sizes, args.store)
    else:
        with tempfile.TemporaryDirectory(prefix="bench_fetch_") as root:
            history = bench_history(template, sizes, f"{root}/store")
    print(f"[history done, {time.perf_counter() - started:.0f} s]", file=sys.stderr)
    report(sizes, fetch, transform, history, memory)
    print(f"(whole run: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
