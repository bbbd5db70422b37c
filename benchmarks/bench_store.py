"""The snapshot store over a long history: ours beside DuckDB -> pandas and Polars -> pandas.

Builds stores of hourly snapshots through ``SnapshotStore.save`` (200 services at one
location, 250 slots each: 50,000 slot rows a snapshot, as a 14-day export of a mid-sized
organization has), then, on the same files in the same run, page cache warm, medians of
--repeat runs:

- ``history(services=[one])``: ours, DuckDB (``read_parquet('<root>/slots/*.parquet') where
  service_id = ...`` -> ``.df()``) and Polars (``scan_parquet(...).filter(...).collect()
  .to_pandas()``), all three giving one service's rows of every snapshot as pandas;
- ``list()`` (ours; DuckDB and Polars have no such notion);
- then ``compact()``, and the same reads again on the compacted files.

Targets (issue 13): ``history(services=[one])`` no slower than DuckDB -> pandas at every
size; <= 1 s over 8,760 hourly snapshots of 200 services after compaction; ``list()`` over
8,760 snapshots <= 0.2 s locally.

    .venv/bin/python benchmarks/bench_store.py [--sizes 30 365 1000] [--year] [--markdown]

``--year`` adds 8,760 snapshots (a year, hourly): about 15 minutes and 10 GB of disk.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from zimun_analytics import SnapshotStore
from zimun_analytics._schema import DAYS, ERRORS, SLOTS, AvailabilitySnapshot

SERVICES = 200
SLOTS_PER_SERVICE = 250  # 14 days x about 18 slots
START = datetime(2026, 1, 1, tzinfo=UTC)
WANTED = "s_0042"


def _snapshot(index: int, rng: np.random.Generator) -> AvailabilitySnapshot:
    """One hourly snapshot of synthetic but schema-true tables (Arrow, as a fetch hands over)."""
    fetched = START + timedelta(hours=index)
    snapshot_id = fetched.strftime("%Y%m%dT%H%M%SZ") + "-b"
    n = SERVICES * SLOTS_PER_SERVICE
    service = np.repeat(np.arange(SERVICES), SLOTS_PER_SERVICE)
    slot = np.tile(np.arange(SLOTS_PER_SERVICE), SERVICES)
    start = np.datetime64(fetched.replace(minute=0, tzinfo=None), "us") + (
        (slot * 80 + 60) * 60_000_000
    ).astype("timedelta64[us]")
    ids = np.array([f"s_{i:04d}" for i in range(SERVICES)], dtype=object)
    capacity = rng.integers(1, 4, n).astype(np.int16)
    slots = pa.table(
        {
            "snapshot_id": pa.array([snapshot_id] * n),
            "fetched_at": pa.array(np.full(n, np.datetime64(fetched.replace(tzinfo=None), "us"))),
            "organization_id": pa.array(["o_bench"] * n),
            "location_id": pa.array(["l_main"] * n),
            "service_id": pa.array(ids[service]),
            "service_name": pa.array(ids[service]),
            "timezone": pa.array(["Europe/Berlin"] * n),
            "slot_start": pa.array(start),
            "slot_end": pa.array(start + np.timedelta64(30, "m")),
            "local_date": pa.array(start.astype("datetime64[D]")),
            "local_hour": pa.array(
                ((start.astype("datetime64[h]").astype(np.int64) + 1) % 24).astype(np.int8)
            ),
            "weekday": pa.array(
                ((start.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int8)
            ),
            "duration_minutes": pa.array(np.full(n, 30, np.int16)),
            "capacity": pa.array(capacity),
            "available": pa.array((capacity * rng.random(n)).astype(np.int16)),
            "lead_time_hours": pa.array((slot * 80 + 60) / 60.0),
        }
    )
    slots = slots.cast(SLOTS.arrow_schema)
    days = slots.group_by(["service_id", "local_date"]).aggregate([("available", "sum")])
    k = len(days)
    days_table = pa.table(
        {
            "snapshot_id": pa.array([snapshot_id] * k),
            "fetched_at": pa.array([fetched] * k),
            "organization_id": pa.array(["o_bench"] * k),
            "location_id": pa.array(["l_main"] * k),
            "service_id": days["service_id"],
            "service_name": days["service_id"],
            "timezone": pa.array(["Europe/Berlin"] * k),
            "local_date": days["local_date"],
            "status": pa.array(["open"] * k),
            "holiday_name": pa.nulls(k, pa.string()),
            "n_slots": pa.array(np.full(k, 18, np.int32)),
            "free_capacity": days["available_sum"].cast(pa.int32()),
        }
    ).cast(DAYS.arrow_schema)
    meta = {
        "snapshot_id": snapshot_id,
        "fetched_at": fetched.isoformat().replace("+00:00", "Z"),
        "api_host": "bench.invalid",
        "parameters": {"days_ahead": 14},
    }
    return AvailabilitySnapshot(slots, days_table, ERRORS.arrow_schema.empty_table(), meta)


def _median(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _reads(root: Path, store: SnapshotStore, repeat: int) -> dict[str, float]:
    glob = f"{root}/slots/*.parquet"
    ours, frame = _median(lambda: store.history(services=[WANTED]), repeat)
    query = f"select * from read_parquet('{glob}') where service_id = '{WANTED}'"
    duck, duck_frame = _median(lambda: duckdb.sql(query).df(), repeat)
    polar, polar_frame = _median(
        lambda: pl.scan_parquet(glob).filter(pl.col("service_id") == WANTED).collect().to_pandas(),
        repeat,
    )
    assert len(frame) == len(duck_frame) == len(polar_frame), "the engines disagree"  # type: ignore[arg-type]
    listed, _ = _median(store.list, repeat)
    return {"rows": len(frame), "ours": ours, "duckdb": duck, "polars": polar, "list": listed}  # type: ignore[arg-type]


def run(size: int, repeat: int, workdir: Path) -> list[dict[str, object]]:
    root = workdir / f"store-{size}"
    store = SnapshotStore(root)
    rng = np.random.default_rng(size)
    started = time.perf_counter()
    for index in range(size):
        store.save(_snapshot(index, rng))
    built = time.perf_counter() - started
    rows = []
    loose = _reads(root, store, repeat)
    rows.append({"snapshots": size, "layout": "one file a snapshot", "build_s": built, **loose})
    started = time.perf_counter()
    done = store.compact(before=START + timedelta(hours=size + 24))
    compacted_s = time.perf_counter() - started
    packed = _reads(root, store, repeat)
    rows.append(
        {
            "snapshots": size,
            "layout": f"compacted ({len(done)} days)",
            "build_s": compacted_s,
            **packed,
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 365, 1000])
    parser.add_argument("--year", action="store_true", help="also 8,760 hourly snapshots")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    sizes = [*args.sizes, *([8760] if args.year else [])]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-store-") as workdir:
        for size in sizes:
            for row in run(size, args.repeat, Path(workdir)):
                results.append(row)
                print(
                    f"{row['snapshots']:>6} snapshots, {row['layout']:<24} rows {row['rows']:>9,}  "
                    f"ours {row['ours']:.3f} s  duckdb {row['duckdb']:.3f} s  "
                    f"polars {row['polars']:.3f} s  ours/duckdb {row['ours'] / row['duckdb']:.2f}  "
                    f"list() {row['list']:.3f} s  (built/compacted in {row['build_s']:.0f} s)",
                    flush=True,
                )
    if args.markdown:
        print(
            "\n| snapshots | files | rows of one service | ours | DuckDB → pandas "
            "| Polars → pandas | ours / DuckDB | list() |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in results:
            print(
                f"| {row['snapshots']:,} | {row['layout']} | {row['rows']:,} | {row['ours']:.3f} s "
                f"| {row['duckdb']:.3f} s | {row['polars']:.3f} s "
                f"| {row['ours'] / row['duckdb']:.2f} | {row['list']:.3f} s |"
            )


if __name__ == "__main__":
    main()
