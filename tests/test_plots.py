"""plots: the drawn grids are the tables (checked against DuckDB), units, hatches, files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import UNLIMITED
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from zimun_analytics import SnapshotStore, ZimunClient, fetch_availability, plots
from zimun_analytics._errors import InputError
from zimun_analytics._schema import SLOTS, WEEKDAY_NAMES
from zimun_analytics.analysis import AXES, heatmap_grid, heatmap_table
from zimun_analytics.plots import _heatmaps as heatmaps
from zimun_analytics.plots import heatmap_report, write_heatmap_reports
from zimun_analytics.sandbox import Sandbox

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
    """The key's entries, under the Axes or (on a figure made by the helper) the figure's."""
    legends = [ax.get_legend(), *ax.get_figure(root=True).legends]
    return [t.get_text() for legend in legends if legend for t in legend.get_texts()]


HAIRCUT = "service_id = 's_haircut'"
# (rows, cols, value, agg, slots kept, the SQL of one (row, col, date), how dates combine)
TABLE_CASES = [
    ("weekday", "local_hour", "available", "mean", HAIRCUT, "sum(available)", "avg(v)"),
    ("service", "location", "slots", "sum", "true", "count(*)", "sum(v)"),
    (
        "local_date",
        "local_hour",
        "utilization",
        "sum",
        "capacity > 0 and available is not null",
        "1 - sum(available)::double / sum(capacity)",
        "min(v)",  # one date per cell: any combination is the value itself
    ),
    (
        "weekday",
        "local_hour",
        "utilization",
        "mean",
        "capacity > 0 and available is not null",
        "1 - sum(available)::double / sum(capacity)",
        "avg(v)",
    ),
    ("service", "weekday", "capacity", "max", "capacity is not null", "sum(capacity)", "max(v)"),
]


def _kept(slots, where):
    """The slots a case draws: one service, or all (SQL filters only narrow the SQL side)."""
    return slots[slots.service_id == "s_haircut"] if where == HAIRCUT else slots


@pytest.mark.parametrize(("rows", "cols", "value", "agg", "where", "inner", "outer"), TABLE_CASES)
def test_heatmap_table_equals_duckdb_over_parquet(
    snapshot, slots_parquet, rows, cols, value, agg, where, inner, outer
):
    table = heatmap_table(_kept(snapshot.slots, where), rows, cols, value, agg)
    r, c = AXES[rows], AXES[cols]
    per_date = (
        f"select {r} as r, {c} as c, local_date, ({inner})::double as v "
        f"from read_parquet('{slots_parquet}') where {where} group by all"
    )
    sql = f"select r, c, ({outer})::double as v from ({per_date}) group by all"
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


@pytest.mark.parametrize(("rows", "cols", "value", "agg", "where"), [c[:5] for c in TABLE_CASES])
def test_drawn_image_is_the_table_with_nan_masked(snapshot, rows, cols, value, agg, where):
    slots = _kept(snapshot.slots, where)
    table = heatmap_table(slots, rows, cols, value, agg)
    drawn = plots.capacity_heatmap(slots, rows, cols, value, agg).images[0].get_array()
    assert np.array_equal(np.ma.getmaskarray(drawn), table.isna().to_numpy())
    np.testing.assert_array_equal(drawn.filled(np.nan), table.to_numpy())


def test_used_up_cells_are_fully_booked_and_missing_cells_masked():
    slots = _slots([("2026-03-23", 9, 0, 2), ("2026-03-23", 11, 3, 3), ("2026-03-24", 9, 1, 1)])
    ax = plots.capacity_heatmap(slots, "local_date", "local_hour")
    drawn = ax.images[0].get_array()
    assert drawn[0, 0] == 0 and not np.ma.getmaskarray(drawn)[0, 0]  # used up: a colour
    assert drawn.shape == (2, 2)  # hours 9 and 11: no hour without any slot
    assert np.ma.getmaskarray(drawn)[1, 1]  # 11:00 on the 24th: no capacity offered
    full = ax.images[1]  # the fully booked overlay, in its own colour
    assert list(np.ma.getmaskarray(full.get_array()).ravel()) == [False, True, True, True]
    assert to_hex(full.get_cmap()(0.5)) == heatmaps.FULL_COLOR.lower()
    assert _legend_texts(ax) == ["fully booked", "no capacity offered"]


def test_weekday_heatmap_has_labels_units_and_default_title(snapshot):
    haircut = snapshot.select(services="s_haircut", locations="l_berlin")
    ax = plots.capacity_heatmap(haircut)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(WEEKDAY_NAMES)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("local hour", "weekday")
    assert ax.get_title().split("\n") == [
        "Free appointments by weekday and local hour, mean per date",
        "Haircut at Berlin Mitte (Europe/Berlin)",
        "Mon 23 Mar - Sun 05 Apr 2026, as of 2026-03-23 08:00 UTC",
    ]
    assert ax.images[0].colorbar.ax.get_ylabel() == "free appointments, mean per date"


def test_several_services_default_to_utilization_and_refuse_adding_free_appointments(snapshot):
    ax = plots.capacity_heatmap(snapshot)
    assert ax.get_title().startswith("Utilization by weekday and local hour, mean per date\n")
    assert "12 services at 4 locations" in ax.get_title()
    assert (
        ax.images[0].colorbar.ax.get_ylabel() == "share of offered capacity booked, mean per date"
    )
    for value in ("available", "capacity"):
        with pytest.raises(InputError, match="staff who serve several of them once per service"):
            plots.capacity_heatmap(snapshot, value=value)
    by_service = plots.capacity_heatmap(snapshot, rows="service")  # one service per cell: fine
    assert by_service.images[0].colorbar.ax.get_ylabel() == "free appointments, mean per date"
    names = [t.get_text() for t in by_service.get_yticklabels()]
    assert "Haircut" in names and "s_haircut" not in names


def test_a_weekday_seen_twice_does_not_outweigh_one_seen_once():
    # two Mondays with 2 free each, one Tuesday with 3: a sum would rank Monday first
    slots = _slots([("2026-03-23", 9, 2, 2), ("2026-03-30", 9, 2, 2), ("2026-03-24", 9, 3, 3)])
    grid = heatmap_grid(slots)
    assert (grid.table.loc[0, 9], grid.table.loc[1, 9]) == (2.0, 3.0)
    assert heatmap_table(slots, agg="sum").loc[0, 9] == 4.0
    assert grid.dates_per_row.loc[[0, 1, 2]].tolist() == [2, 1, 0]
    ax = plots.capacity_heatmap(slots)
    assert {"dates", "2", "1", "0"} <= set(_texts(ax))


@pytest.mark.parametrize(
    ("value", "agg", "label"),
    [
        ("utilization", "sum", "share of offered capacity booked, pooled over the window"),
        ("slots", "sum", "listed slots, total over the window"),
        ("capacity", "min", "offered appointments, least on any date"),
    ],
)
def test_colour_bar_names_the_unit(snapshot, value, agg, label):
    ax = plots.capacity_heatmap(snapshot, "service", "weekday", value, agg, title="T")
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


def test_scarce_sits_at_the_light_end_of_free_and_utilization_maps():
    def luminance(rgba):
        return float(np.dot(rgba[:3], [0.2126, 0.7152, 0.0722]))

    slots = _slots([("2026-03-23", 9, 1, 4), ("2026-03-23", 10, 4, 4)])
    free = plots.capacity_heatmap(slots, "local_date", "local_hour").images[0]
    used = plots.capacity_heatmap(slots, "local_date", "local_hour", "utilization").images[0]
    scarce_free, plenty_free = free.to_rgba(free.norm(1.0)), free.to_rgba(free.norm(4.0))
    scarce_used, plenty_used = used.to_rgba(used.norm(0.75)), used.to_rgba(used.norm(0.0))
    assert luminance(scarce_free) > luminance(plenty_free)
    assert luminance(scarce_used) > luminance(plenty_used)
    # the free-capacity bar runs upside down, so "scarce" is on top of both bars
    assert free.colorbar.ax.yaxis_inverted() and not used.colorbar.ax.yaxis_inverted()


def test_today_s_elapsed_hours_are_past_not_unoffered(sandbox):
    later = "2026-03-23T11:20:00Z"  # 12:20 in Berlin: hours 08-12 of today have begun
    with Sandbox(seed=1, now=later, **UNLIMITED) as late:
        with ZimunClient("demo", "demo-secret", late.base_url) as client:
            snapshot = fetch_availability(
                client,
                services=["s_haircut"],
                locations=["l_berlin"],
                days_ahead=7,
                progress=False,
            )
    calendar = heatmap_grid(snapshot, "local_date", "local_hour")
    today = pd.Timestamp("2026-03-23")
    past_hours = [h for h in calendar.past.columns if calendar.past.loc[today, h]]
    assert past_hours and max(past_hours) <= 12 and min(past_hours) == calendar.table.columns[0]
    assert not calendar.past.drop(index=today).to_numpy().any()
    # a 7-day window holds one Monday, today: its early hours are past, not "no capacity"
    weekly = heatmap_grid(snapshot)
    assert weekly.past.loc[0].any() and not weekly.past.drop(index=0).to_numpy().any()
    ax = plots.calendar_heatmap(snapshot)
    assert "past (before the fetch)" in _legend_texts(ax)


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
    hatched = {p.get_y() + 0.5 for p in ax.patches if p.get_hatch() == heatmaps.DAY_OFF_HATCH}
    assert row in hatched and dates.index("Sun 29 Mar") in hatched
    assert "holiday/closed" in _legend_texts(ax)
    assert ax.get_title().split("\n")[1] == "Haircut at l_berlin (Europe/Berlin)"


def test_calendar_takes_a_snapshot_and_names_its_location(snapshot):
    ax = plots.calendar_heatmap(snapshot.select(services="s_haircut", locations="l_berlin"))
    assert ax.get_title().split("\n")[1] == "Haircut at Berlin Mitte (Europe/Berlin)"
    assert len(ax.get_yticklabels()) == 14
    with pytest.raises(InputError, match="needs days"):
        plots.calendar_heatmap(snapshot.slots)


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
    fig = plots.small_multiples(snapshot)
    panels = [ax for ax in fig.axes if ax.images]
    assert isinstance(fig, Figure) and len(panels) == 12
    parts = snapshot.slots.groupby("service_id")
    vmax = max(heatmap_table(part).max().max() for _, part in parts)
    assert {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for ax in panels} == {(0, vmax)}
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [bar.get_ylabel() for bar in bars] == ["free appointments, mean per date"]
    assert "Haircut" in [ax.get_title() for ax in panels]


def test_small_multiples_by_location_align_every_panel(snapshot):
    fig = plots.small_multiples(snapshot, by="location", cols="local_date")
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    assert len({ax.images[0].get_array().shape for ax in panels}) == 1
    london = next(ax for ax in panels if ax.get_title() == "London Soho (Europe/London)")
    assert london.get_xlabel() == "local date"  # nothing below it: it keeps its labels
    assert london.xaxis.get_major_ticks()[0].label1.get_visible()
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert bars[0].get_ylabel() == "share of offered capacity booked"  # several services each


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
        "free appointments",
    )


def test_booking_pace_plot_puts_each_rate_at_its_interval_end():
    pace = _pace()
    ax = plots.booking_pace_plot(pace)
    assert len(ax.lines) == 2
    facial = pace[pace.service_id == "s_facial"]
    ends = facial.to_fetched_at.dt.tz_localize(None).to_numpy()
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), ends)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), facial.taken_per_day)
    assert ax.get_ylabel() == "booking pace (appointments taken per day)"


def test_many_lines_get_a_note_instead_of_a_legend():
    curves = pd.concat([_curves().assign(service_id=f"s_{i}") for i in range(4)])
    ax = plots.fill_curve_plot(curves)
    assert ax.get_legend() is None and "16 lines" in _texts(ax)[0]


def test_plots_draw_on_a_given_axes():
    ax = Figure().add_subplot()
    assert plots.lead_time_plot(_trend(), ax=ax) is ax


DRAWINGS = {
    "capacity_heatmap": lambda snap: plots.capacity_heatmap(snap),
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


def test_no_pyplot_figures_are_left_open():
    import matplotlib.pyplot as plt  # noqa: TID251  (only to look at pyplot's registry)

    assert plt.get_fignums() == []


def test_report_calendars_share_one_scale_and_say_what_and_when(snapshot):
    pictures = heatmap_report(snapshot)
    calendars = {stem: ax for stem, ax in pictures.items() if stem.startswith("calendar_")}
    assert list(pictures)[0] == "weekday_hour"
    assert sorted(calendars) == [
        f"calendar_{loc}" for loc in sorted(snapshot.slots.location_id.unique())
    ]
    for ax in calendars.values():
        assert ax.get_title().endswith("as of 2026-03-23 08:00 UTC")
    weekly = pictures["weekday_hour"]
    assert isinstance(weekly, Figure) and "Berlin Mitte (Europe/Berlin)" in [
        ax.get_title() for ax in weekly.axes
    ]
    # one service: free appointments, on one scale whose top is the busiest location's cell
    haircut = heatmap_report(snapshot.select(services="s_haircut"))
    norms = {
        (ax.images[0].norm.vmin, ax.images[0].norm.vmax)
        for s, ax in haircut.items()
        if s != "weekday_hour"
    }
    tops = [
        heatmap_table(
            snapshot.select(services="s_haircut", locations=loc), "local_date", "local_hour"
        )
        .max()
        .max()
        for loc in snapshot.slots.location_id.unique()
    ]
    assert norms == {(0.0, max(tops))}


def test_reports_of_two_different_snapshots_are_different_images(tmp_path):
    folders = []
    with Sandbox(seed=1, now="2026-03-23T08:00:00Z", **UNLIMITED) as sandbox:
        with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
            for hour in range(2):
                snapshot = fetch_availability(client, days_ahead=7, progress=False)
                folders.append(tmp_path / str(hour))
                write_heatmap_reports(snapshot, folders[-1])
                sandbox.advance(3600, simulate=True)  # an hour passes, customers book
    first = sorted(p.name for p in folders[0].iterdir())
    assert first == sorted(p.name for p in folders[1].iterdir()) and len(first) == 5
    for name in first:
        assert (folders[0] / name).read_bytes() != (folders[1] / name).read_bytes(), name


def test_helpers_take_a_snapshot_wherever_they_take_slots(snapshot):
    assert heatmap_table(snapshot).equals(heatmap_table(snapshot.slots))
    berlin = snapshot.select(locations="l_berlin")
    assert set(berlin.slots.location_id) == set(berlin.days.location_id) == {"l_berlin"}
    assert berlin.meta == snapshot.meta
    fig = plots.small_multiples(snapshot.select(services="s_haircut"), by="location")
    assert "Haircut at 4 locations" in fig.get_suptitle()
    assert len(plots.calendar_heatmap(berlin).get_yticklabels()) == 14


def _fetch(now, services=("s_haircut",), locations=("l_berlin",), days_ahead=7, **options):
    with Sandbox(seed=1, now=now, **{**UNLIMITED, **options}) as sandbox:
        with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
            return fetch_availability(
                client,
                services=list(services),
                locations=list(locations),
                days_ahead=days_ahead,
                progress=False,
            )


def test_a_history_counts_each_slot_once_as_last_seen(tmp_path):
    store = SnapshotStore(tmp_path / "store")
    with Sandbox(seed=1, now="2026-03-23T08:00:00Z", **UNLIMITED) as sandbox:
        with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
            for _ in range(3):
                last = fetch_availability(client, services=["s_haircut"], progress=False)
                store.save(last)
                sandbox.advance(86_400, simulate=True)
    history = store.history()
    assert history.snapshot_id.nunique() == 3
    latest = history.sort_values("fetched_at").drop_duplicates(
        ["service_id", "location_id", "slot_start"], keep="last"
    )
    by_hand = (
        latest.groupby(["weekday", "local_hour", "local_date"])["available"]
        .sum()
        .groupby(["weekday", "local_hour"])
        .mean()
    )
    table = heatmap_table(history)
    for (weekday, hour), expected in by_hand.items():
        assert table.loc[weekday, hour] == pytest.approx(expected)


def test_a_begun_hour_is_past_not_a_short_date():
    # 11:20 in Berlin: the 11:30 and 11:45 quick trims are still listed, but 11 has begun
    snapshot = _fetch("2026-03-23T10:20:00Z", services=["s_quick_trim"], days_ahead=14)
    calendar = heatmap_grid(snapshot, "local_date", "local_hour", value="slots")
    today = pd.Timestamp("2026-03-23")
    assert np.isnan(calendar.table.loc[today, 11]) and calendar.past.loc[today, 11]
    assert calendar.table.loc[today, 12] == calendar.table.loc[pd.Timestamp("2026-03-30"), 12]
    weekly = heatmap_grid(snapshot, value="slots")
    assert weekly.table.loc[0, 11] == weekly.table.loc[0, 12]  # Monday 11 stands on next Monday


def test_late_in_the_evening_today_is_past_and_other_zones_have_their_own_today():
    late = _fetch("2026-03-23T22:30:00Z")  # 23:30 in Berlin: nothing left today
    calendar = heatmap_grid(late, "local_date", "local_hour")
    assert calendar.past.loc[pd.Timestamp("2026-03-23")].all()
    early = _fetch("2026-03-23T02:00:00Z", services=["s_haircut"], locations=["l_newyork"])
    # 22:00 on Sunday in New York: its today is the 22nd, and its hours are over
    grid = heatmap_grid(early, "local_date", "local_hour")
    assert grid.past.loc[pd.Timestamp("2026-03-22")].all()


def test_omitted_full_slots_are_not_called_unoffered():
    omitted = _fetch("2026-03-23T08:00:00Z", omit_full_slots=True)
    grid = heatmap_grid(omitted, "local_date", "local_hour")
    assert not grid.full_slots_listed
    ax = plots.calendar_heatmap(omitted)
    assert heatmaps.NOT_LISTED in _legend_texts(ax) and "no capacity offered" not in _legend_texts(
        ax
    )
    assert heatmaps.UNLISTED_NOTE in ax.get_title()
    listed = heatmap_grid(_fetch("2026-03-23T08:00:00Z"), "local_date", "local_hour")
    assert listed.full_slots_listed


def test_fully_booked_means_nothing_left_on_any_date_whatever_the_aggregation():
    # Monday 9: 0 free on the 23rd, 2 on the 30th; its least is 0, yet it is not fully booked
    slots = _slots([("2026-03-23", 9, 0, 2), ("2026-03-30", 9, 2, 2), ("2026-03-24", 9, 0, 1)])
    grid = heatmap_grid(slots, agg="min")
    assert grid.table.loc[0, 9] == 0 and not grid.full.loc[0, 9]
    assert grid.full.loc[1, 9]
    used = heatmap_grid(slots, value="utilization", agg="max")
    assert used.table.loc[0, 9] == 1.0 and not used.full.loc[0, 9]


def test_reports_fall_back_to_slot_counts_where_numbers_are_missing(snapshot):
    no_capacity = snapshot.select()
    no_capacity.slots["capacity"] = pd.array([None] * len(no_capacity.slots), dtype="Int16")
    pictures = heatmap_report(no_capacity)
    colour_bars = {
        ax.images[0].colorbar.ax.get_ylabel() for s, ax in pictures.items() if s != "weekday_hour"
    }
    assert colour_bars == {"listed slots"}
    one = snapshot.select(services="s_haircut")
    one.slots["available"] = pd.array([None] * len(one.slots), dtype="Int16")
    assert len(heatmap_report(one)) == 5
    with pytest.raises(InputError, match="reports 'available'"):
        heatmap_table(one, value="available")


def test_too_many_rows_are_refused_with_what_to_do(snapshot):
    many = snapshot.slots.assign(
        service_id=lambda f: f.service_id + "_" + (f.index % 300).astype(str)
    )
    with pytest.raises(InputError, match="too many to read"):
        plots.capacity_heatmap(many, rows="service")


def test_the_same_picture_gives_the_same_svg_bytes(snapshot, tmp_path):
    berlin = snapshot.select(services="s_haircut", locations="l_berlin")
    paths = [
        plots.save_figure(plots.calendar_heatmap(berlin), tmp_path / f"{name}.svg")
        for name in ("a", "b")
    ]
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_a_two_service_title_names_both(snapshot):
    ax = plots.capacity_heatmap(snapshot.select(services=["s_haircut", "s_beard"]))
    assert "2 services: Beard styling, Haircut at" in ax.get_title()
