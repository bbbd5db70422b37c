"""plots: the drawn grids are the tables (checked against DuckDB), units, hatches, files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib.figure import Figure

from zimun_analytics import ZimunClient, fetch_availability, plots, trendplots
from zimun_analytics.analysis import AXES, WEEKDAY_NAMES, heatmap_table
from zimun_analytics.errors import InputError
from zimun_analytics.schema import SLOTS

duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def snapshot(sandbox):
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
        return fetch_availability(client, days_ahead=14, progress=False)


@pytest.fixture(scope="module")
def slots_parquet(snapshot, tmp_path_factory):
    path = tmp_path_factory.mktemp("parquet") / "slots.parquet"
    table = pa.Table.from_pandas(snapshot.slots, schema=SLOTS.arrow_schema, preserve_index=False)
    pq.write_table(table, path)
    return path


def _pair(snapshot, service, location):
    """Slots and days of one service at one location."""
    slots, days = snapshot.slots, snapshot.days
    keep_slots = (slots.service_id == service) & (slots.location_id == location)
    keep_days = (days.service_id == service) & (days.location_id == location)
    return slots[keep_slots], days[keep_days]


def _slots(cells):
    """A tiny slots frame: one slot per (date, hour, available, capacity)."""
    dates = pd.to_datetime([c[0] for c in cells])
    return pd.DataFrame(
        {
            "service_id": "s_x",
            "service_name": "X",
            "location_id": "l_x",
            "timezone": "UTC",
            "local_date": dates,
            "local_hour": pd.array([c[1] for c in cells], dtype="Int8"),
            "weekday": pd.array(dates.day_of_week, dtype="Int8"),
            "available": pd.array([c[2] for c in cells], dtype="Int16"),
            "capacity": pd.array([c[3] for c in cells], dtype="Int16"),
        }
    )


def _days(statuses):
    """A tiny days frame: (date, status, holiday_name) per row."""
    return pd.DataFrame(
        {
            "service_id": "s_x",
            "location_id": "l_x",
            "local_date": pd.to_datetime([s[0] for s in statuses]),
            "status": [s[1] for s in statuses],
            "holiday_name": pd.array([s[2] for s in statuses], dtype="string"),
        }
    )


def _trend():
    fetched = pd.date_range("2026-03-20T08:00Z", periods=4, freq="D")
    rows = [
        {
            "snapshot_id": f"snap{i}",
            "fetched_at": at,
            "service_id": service,
            "location_id": location,
            "next_lead_time_hours": np.nan if (location == "l_london" and i == 2) else 2.0 + i,
        }
        for service, location in [("s_haircut", "l_berlin"), ("s_haircut", "l_london")]
        for i, at in enumerate(fetched)
    ]
    return pd.DataFrame(rows)


def _curves():
    rows = [
        {
            "service_id": "s_haircut",
            "location_id": location,
            "local_date": pd.Timestamp(date),
            "snapshot_id": f"snap{k}",
            "fetched_at": pd.Timestamp(date, tz="UTC") - pd.Timedelta(days=5 - k),
            "days_before": 5.0 - k,
            "free_capacity": 20 - 4 * k,
            "capacity": 24,
        }
        for location in ("l_berlin", "l_london")
        for date in ("2026-03-30", "2026-03-31")
        for k in range(5)
    ]
    return pd.DataFrame(rows)


def _pace():
    fetched = pd.date_range("2026-03-20T08:00Z", periods=4, freq="D")
    rows = [
        {
            "service_id": service,
            "location_id": "l_berlin",
            "from_snapshot": f"snap{i}",
            "to_snapshot": f"snap{i + 1}",
            "from_fetched_at": fetched[i],
            "to_fetched_at": fetched[i + 1],
            "days_elapsed": 1.0,
            "slots_taken": 3 * i,
            "slots_released": 1,
            "taken_per_day": 3.0 * i,
        }
        for service in ("s_haircut", "s_facial")
        for i in range(3)
    ]
    return pd.DataFrame(rows)


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def _legend_texts(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


TABLE_CASES = [
    ("weekday", "local_hour", "available", "sum", "sum(available)", ""),
    ("service", "location", "slots", "sum", "count(*)", ""),
    (
        "local_date",
        "local_hour",
        "utilization",
        "sum",
        "1 - sum(available)::double / sum(capacity)",
        "where capacity > 0 and available is not null",
    ),
    ("location", "weekday", "capacity", "mean", "avg(capacity)", "where capacity is not null"),
]


@pytest.mark.parametrize(("rows", "cols", "value", "agg", "expr", "where"), TABLE_CASES)
def test_heatmap_table_equals_duckdb_over_parquet(
    snapshot, slots_parquet, rows, cols, value, agg, expr, where
):
    table = heatmap_table(snapshot.slots, rows, cols, value, agg)
    sql = (
        f"select {AXES[rows]} as r, {AXES[cols]} as c, ({expr})::double as v "
        f"from read_parquet('{slots_parquet}') {where} group by all"
    )
    with duckdb.connect() as con:
        found = con.execute(sql).df()
    if rows == "local_date":
        found["r"] = pd.to_datetime(found["r"])
    expected = found.pivot(index="r", columns="c", values="v")
    assert set(expected.index) <= set(table.index)
    assert set(expected.columns) <= set(table.columns)
    assert table.notna().to_numpy().sum() == len(found)  # every other cell is NaN
    expected = expected.reindex(index=table.index, columns=table.columns)
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(("rows", "cols", "value", "agg"), [c[:4] for c in TABLE_CASES])
def test_drawn_image_is_the_table_with_nan_masked(snapshot, rows, cols, value, agg):
    table = heatmap_table(snapshot.slots, rows, cols, value, agg)
    drawn = plots.capacity_heatmap(snapshot.slots, rows, cols, value, agg).images[0].get_array()
    assert np.array_equal(np.ma.getmaskarray(drawn), table.isna().to_numpy())
    np.testing.assert_array_equal(drawn.filled(np.nan), table.to_numpy())


def test_used_up_cells_are_coloured_and_missing_cells_masked():
    slots = _slots([("2026-03-23", 9, 0, 2), ("2026-03-23", 11, 3, 3), ("2026-03-24", 9, 1, 1)])
    ax = plots.capacity_heatmap(slots, "local_date", "local_hour")
    drawn = ax.images[0].get_array()
    assert drawn[0, 0] == 0 and not np.ma.getmaskarray(drawn)[0, 0]  # used up: a colour
    assert drawn.shape == (2, 2)  # hours 9 and 11: no hour without any slot
    assert np.ma.getmaskarray(drawn)[1, 1]  # 11:00 on the 24th: no capacity offered
    assert _legend_texts(ax) == ["no capacity offered"]


def test_weekday_heatmap_has_labels_units_and_default_title(snapshot):
    ax = plots.capacity_heatmap(snapshot.slots)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(WEEKDAY_NAMES)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("local hour", "weekday")
    assert ax.get_title() == "Free capacity by weekday and local hour"
    assert ax.images[0].colorbar.ax.get_ylabel() == "free capacity (staff-slots)"


@pytest.mark.parametrize(
    ("value", "agg", "label"),
    [
        ("utilization", "sum", "utilization (share of capacity used)"),
        ("slots", "sum", "slots (count)"),
        ("capacity", "mean", "mean offered capacity per slot (staff-slots)"),
    ],
)
def test_colour_bar_names_the_unit(snapshot, value, agg, label):
    ax = plots.capacity_heatmap(snapshot.slots, "location", "weekday", value, agg, title="T")
    assert ax.images[0].colorbar.ax.get_ylabel() == label
    assert ax.get_title() == "T"


def test_small_grids_are_annotated_integers_and_percentages():
    slots = _slots([("2026-03-23", 9, 1, 4), ("2026-03-23", 10, 3, 3), ("2026-03-24", 9, 0, 2)])
    counts = plots.capacity_heatmap(slots, "local_date", "local_hour")
    assert sorted(_texts(counts)) == ["0", "1", "3"]
    shares = plots.capacity_heatmap(slots, "local_date", "local_hour", "utilization")
    assert sorted(_texts(shares)) == ["0%", "100%", "75%"]


def test_large_grids_are_not_annotated():
    dates = pd.date_range("2026-03-01", periods=40).strftime("%Y-%m-%d")
    slots = _slots([(d, h, 1, 1) for d in dates for h in (9, 10)])
    ax = plots.capacity_heatmap(slots, "local_date", "local_hour")
    assert ax.images[0].get_array().shape == (40, 2) and not _texts(ax)


def test_calendar_hatches_and_names_good_friday_in_berlin(snapshot):
    slots, days = _pair(snapshot, "s_haircut", "l_berlin")
    ax = plots.calendar_heatmap(slots, days)
    dates = [t.get_text() for t in ax.get_yticklabels()]
    assert len(dates) == days.local_date.nunique() == 14
    row = dates.index("Fri 03 Apr")
    assert np.ma.getmaskarray(ax.images[0].get_array())[row].all()
    labels = {(t.get_text(), t.get_position()[1]) for t in ax.texts}
    assert ("Good Friday", row) in labels
    assert ("closed", dates.index("Sun 29 Mar")) in labels
    hatched = {p.get_y() + 0.5 for p in ax.patches if p.get_hatch() == plots.DAY_OFF_HATCH}
    assert row in hatched and dates.index("Sun 29 Mar") in hatched
    assert "holiday/closed" in _legend_texts(ax)
    assert ax.get_title().endswith("Haircut at l_berlin")


def test_london_calendar_opens_the_dst_sunday_at_local_hour_10(snapshot):
    slots, days = _pair(snapshot, "s_haircut", "l_london")
    ax = plots.calendar_heatmap(slots, days)
    dates = [t.get_text() for t in ax.get_yticklabels()]
    hours = [t.get_text() for t in ax.get_xticklabels()]
    offered = ~np.ma.getmaskarray(ax.images[0].get_array())

    def first_hour(date):
        return hours[np.flatnonzero(offered[dates.index(date)])[0]]

    assert (first_hour("Sat 28 Mar"), first_hour("Sun 29 Mar")) == ("09", "10")
    sunday = slots[slots.local_date == pd.Timestamp("2026-03-29")]
    assert sunday.slot_start.min() == pd.Timestamp("2026-03-29T09:00Z")  # 10:00 BST


def test_calendar_keeps_full_days_apart_from_days_off():
    slots = _slots([("2026-03-23", 9, 0, 2), ("2026-03-23", 10, 0, 1)])
    days = _days(
        [
            ("2026-03-23", "open", None),
            ("2026-03-24", "holiday", "Good Friday"),
            ("2026-03-25", "closed", None),
        ]
    )
    ax = plots.calendar_heatmap(slots, days)
    drawn = ax.images[0].get_array()
    assert drawn.shape == (3, 2) and list(drawn[0]) == [0, 0]
    assert np.ma.getmaskarray(drawn)[1:].all()
    assert {"Good Friday", "closed"} <= set(_texts(ax))
    assert ax.get_ylabel() == "local date" and ax.get_xlabel() == "local hour"


def test_small_multiples_share_one_colour_scale(snapshot):
    fig = plots.small_multiples(snapshot.slots)
    panels = [ax for ax in fig.axes if ax.images]
    assert isinstance(fig, Figure) and len(panels) == 12
    parts = snapshot.slots.groupby("service_id")
    vmax = max(heatmap_table(part).max().max() for _, part in parts)
    assert {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in panels} == {(0, vmax)}
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [bar.get_ylabel() for bar in bars] == ["free capacity (staff-slots)"]
    assert "Haircut (s_haircut)" in [ax.get_title() for ax in panels]


def test_small_multiples_by_location_align_every_panel(snapshot):
    fig = plots.small_multiples(snapshot.slots, by="location", cols="local_date")
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    assert len({ax.images[0].get_array().shape for ax in panels}) == 1
    london = next(ax for ax in panels if ax.get_title() == "l_london (Europe/London)")
    assert london.get_xlabel() == "local date"  # nothing below it: it keeps its labels
    assert london.xaxis.get_major_ticks()[0].label1.get_visible()


@pytest.mark.parametrize(
    "kwargs", [{"max_panels": 5}, {"by": "weekday"}, {"by": "location", "rows": "location"}]
)
def test_small_multiples_refuse_bad_panel_choices(snapshot, kwargs):
    with pytest.raises(InputError):
        plots.small_multiples(snapshot.slots, **kwargs)


def test_lead_time_plot_draws_one_line_per_pair_with_gaps():
    ax = plots.lead_time_plot(_trend())
    assert _legend_texts(ax) == ["s_haircut @ l_berlin", "s_haircut @ l_london"]
    assert np.isnan(ax.lines[1].get_ydata()[2])  # nothing free then: a gap, not a zero
    assert ax.get_ylabel() == "lead time to the next free slot (hours)"
    assert ax.get_xlabel() == "fetched at (UTC)"


def test_fill_curve_plot_runs_toward_the_date():
    ax = plots.fill_curve_plot(_curves())
    assert len(ax.lines) == 4 and ax.xaxis_inverted()
    assert ax.get_xlim()[1] == 0
    assert "s_haircut @ l_berlin, Mon 30 Mar" in _legend_texts(ax)
    assert (ax.get_xlabel(), ax.get_ylabel()) == (
        "days before the date",
        "free capacity (staff-slots)",
    )


def test_booking_pace_plot_puts_each_rate_at_its_interval_end():
    pace = _pace()
    ax = plots.booking_pace_plot(pace)
    assert len(ax.lines) == 2
    facial = pace[pace.service_id == "s_facial"]
    ends = facial.to_fetched_at.dt.tz_localize(None).to_numpy()
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), ends)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), facial.taken_per_day)
    assert ax.get_ylabel() == "booking pace (staff-slots taken per day)"


def test_many_lines_get_a_note_instead_of_a_legend():
    curves = pd.concat([_curves().assign(service_id=f"s_{i}") for i in range(4)])
    ax = plots.fill_curve_plot(curves)
    assert ax.get_legend() is None and "16 lines" in _texts(ax)[0]


def test_plots_draw_on_a_given_axes():
    ax = Figure().add_subplot()
    assert plots.lead_time_plot(_trend(), ax=ax) is ax


DRAWINGS = {
    "capacity_heatmap": lambda snap: plots.capacity_heatmap(snap.slots),
    "calendar_heatmap": lambda snap: plots.calendar_heatmap(*_pair(snap, "s_haircut", "l_berlin")),
    "small_multiples": lambda snap: plots.small_multiples(snap.slots, by="location"),
    "lead_time_plot": lambda snap: plots.lead_time_plot(_trend()),
    "fill_curve_plot": lambda snap: plots.fill_curve_plot(_curves()),
    "booking_pace_plot": lambda snap: plots.booking_pace_plot(_pace()),
}


@pytest.mark.parametrize("name", DRAWINGS)
def test_save_figure_writes_png_and_svg(snapshot, tmp_path, name):
    drawing = DRAWINGS[name](snapshot)
    png = plots.save_figure(drawing, tmp_path / f"{name}.png")
    svg = plots.save_figure(drawing, str(tmp_path / f"{name}.svg"))
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in svg.read_bytes()[:1000]


def test_save_figure_refuses_other_formats(tmp_path):
    with pytest.raises(InputError, match=r"\.png or \.svg"):
        plots.save_figure(plots.lead_time_plot(_trend()), tmp_path / "plot.pdf")


EMPTY = {
    "capacity_heatmap": lambda snap: plots.capacity_heatmap(snap.slots[:0]),
    "calendar_no_slots": lambda snap: plots.calendar_heatmap(snap.slots[:0], snap.days),
    "calendar_no_days": lambda snap: plots.calendar_heatmap(snap.slots, snap.days[:0]),
    "small_multiples": lambda snap: plots.small_multiples(snap.slots[:0]),
    "lead_time_plot": lambda snap: plots.lead_time_plot(_trend()[:0]),
    "fill_curve_plot": lambda snap: plots.fill_curve_plot(_curves()[:0]),
    "booking_pace_plot": lambda snap: plots.booking_pace_plot(_pace()[:0]),
}


@pytest.mark.parametrize("name", EMPTY)
def test_empty_input_is_an_input_error(snapshot, name):
    with pytest.raises(InputError, match="is empty"):
        EMPTY[name](snapshot)


def test_trend_plots_live_in_trendplots_and_stay_importable_from_plots():
    assert set(trendplots.__all__) < set(plots.__all__)
    for name in trendplots.__all__:
        assert getattr(plots, name) is getattr(trendplots, name)


@pytest.mark.parametrize("first", ["trendplots", "plots"])
def test_either_plot_module_imports_first(first):
    code = f"import zimun_analytics.{first}; from zimun_analytics.plots import lead_time_plot"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_no_pyplot_figures_are_left_open():
    import matplotlib.pyplot as plt  # noqa: TID251  (only to look at pyplot's registry)

    assert plt.get_fignums() == []
