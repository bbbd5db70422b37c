"""heatmap_table and the heatmaps on 1,000,000 slots, to a saved PNG.

Target: <= 1 s from the slots frame to a saved PNG, for both the weekday x hour heatmap and the
calendar heatmap. Printed beside a plain ``pandas.pivot_table`` of the same cells in the same
run (the baseline for the table step). Each figure is the median of 3 runs after a warm-up.

    .venv/bin/python benchmarks/bench_plots.py [--slots 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from zimun_analytics import ZimunClient, fetch_availability
from zimun_analytics.analysis import heatmap_table
from zimun_analytics.plots import calendar_heatmap, capacity_heatmap, save_figure
from zimun_analytics.sandbox import Sandbox

TARGET_S = 1.0


def _million_slots(n_slots: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A real 28-day snapshot, its services copied under new ids until there are n_slots rows."""
    with Sandbox(seed=1, now="2026-03-23T08:00:00Z", rate_limit=1e6, rate_burst=10**6) as sb:
        with ZimunClient(sb.client_id, sb.client_secret, sb.base_url) as client:
            snapshot = fetch_availability(client, days_ahead=28, progress=False)
    copies = -(-n_slots // len(snapshot.slots))
    slots = pd.concat(
        [
            snapshot.slots.assign(service_id=snapshot.slots["service_id"] + f"_{n}")
            for n in range(copies)
        ],
        ignore_index=True,
    ).iloc[:n_slots]
    return slots, snapshot.days


def _timed(step, runs: int = 3) -> tuple[float, object]:
    """Median seconds of ``runs`` runs after one warm-up (fonts, caches), and the result."""
    result = step()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=1_000_000)
    args = parser.parse_args()
    slots, days = _million_slots(args.slots)
    out = Path(tempfile.mkdtemp(prefix="zimun-bench-plots-"))
    rows = [
        (
            "pivot_table weekday x hour (baseline)",
            _timed(
                lambda: slots.pivot_table(
                    index="weekday", columns="local_hour", values="available", aggfunc="sum"
                )
            )[0],
        ),
        ("heatmap_table weekday x hour", _timed(lambda: heatmap_table(slots))[0]),
        (
            "heatmap_table date x hour, utilization",
            _timed(
                lambda: heatmap_table(
                    slots, rows="local_date", cols="local_hour", value="utilization"
                )
            )[0],
        ),
        (
            "capacity_heatmap -> PNG",
            _timed(lambda: save_figure(capacity_heatmap(slots), out / "weekday_hour.png"))[0],
        ),
        (
            "calendar_heatmap -> PNG",
            _timed(lambda: save_figure(calendar_heatmap(slots, days), out / "calendar.png"))[0],
        ),
    ]
    print(f"{len(slots):,} slots ({slots['service_id'].nunique()} services, 28 days)")
    print(f"{'step':44} {'seconds':>8}")
    for name, seconds in rows:
        print(f"{name:44} {seconds:8.3f}")
    met = all(seconds <= TARGET_S for name, seconds in rows if "PNG" in name)
    print(f"target: each heatmap <= {TARGET_S:.0f} s to a saved PNG: {'met' if met else 'MISSED'}")


if __name__ == "__main__":
    main()
