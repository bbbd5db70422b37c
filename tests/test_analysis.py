"""Capacity metrics of a snapshot and trends across snapshots, on hand-made payloads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from zimun_analytics._errors import InputError
from zimun_analytics._models import Service
from zimun_analytics.analysis import (
    booking_pace,
    daily_capacity,
    fill_curves,
    heatmap_table,
    lead_time_trend,
    next_available,
    service_overview,
)
from zimun_analytics.fetch._mapping import tables_from_payloads
from zimun_analytics.fetch._wire import Call, Payload

CUT = Service(
    service_id="s_cut",
    name="Cut",
    duration_minutes=30,
    buffer_minutes=0,
    location_ids=("l_ldn",),
    active=True,
)


def _slot(start, capacity=2, available=1):
    return {"start": start, "capacity": capacity, "available": available}


def _payload(days, holidays=None, tz="Europe/London"):
    data = {
        "organization_id": "o_1",
        "service_id": "s_cut",
        "location_id": "l_ldn",
        "timezone": tz,
        "start_date": days[0]["date"],
        "days": days,
        "holidays": holidays or {},
    }
    return Payload.from_data(Call(CUT, "l_ldn", None, len(days)), data, "req_1")


def _windows(days):
    """The days in runs of consecutive dates: a window of the API has every day in it."""
    runs: list[list[dict]] = []
    for day in days:
        if runs and date.fromisoformat(day["date"]) == _next_date(runs[-1][-1]):
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _next_date(day):
    return date.fromisoformat(day["date"]) + timedelta(days=1)


def _snapshot(days, fetched_at="2026-03-27T08:00:00+00:00", snapshot_id="a", **kwargs):
    moment = datetime.fromisoformat(fetched_at).astimezone(UTC)
    payloads = [_payload(window, **kwargs) for window in _windows(days)]
    return tables_from_payloads(payloads, snapshot_id, moment, "o_1")


# Saturday before the switch to summer time, the 23-hour Sunday, and Good Friday a week later
DAYS = [
    {
        "date": "2026-03-28",
        "status": "open",
        "slots": [
            _slot("2026-03-28T09:00:00+00:00", 2, 1),
            _slot("2026-03-28T09:30:00+00:00", 2, 0),
            _slot("2026-03-28T14:00:00+00:00", 1, 1),
        ],
    },
    {
        "date": "2026-03-29",
        "status": "open",
        "slots": [
            _slot("2026-03-29T10:00:00+01:00", 2, 2),
            _slot("2026-03-29T10:30:00+01:00", 2, 0),
        ],
    },
    {"date": "2026-04-03", "status": "holiday", "slots": []},
]
HOLIDAYS = {"2026-04-03": {"name": "Good Friday", "kind": "public_holiday"}}


@pytest.fixture
def frames():
    return _snapshot(DAYS, holidays=HOLIDAYS)


def test_weekday_by_hour_buckets_local_wall_clock_hours(frames):
    slots, _ = frames
    table = heatmap_table(slots)
    assert list(table.index) == list(range(7))  # every weekday, Monday = 0
    assert table.loc[5, 9] == 1.0  # Saturday 09:00 and 09:30 GMT: 1 + 0
    assert table.loc[6, 10] == 2.0  # Sunday 10:00 BST is 09:00 UTC, but local hour 10
    assert np.isnan(table.loc[0, 9])  # nothing offered on Monday: missing, not zero


def test_used_up_capacity_is_zero_and_no_capacity_is_missing(frames):
    slots, _ = frames
    table = heatmap_table(slots, rows="local_date", cols="local_hour", value="available", agg="min")
    assert table.loc[pd.Timestamp("2026-03-28"), 9] == 1.0  # the hour's slots: 1 + 0 free
    assert table.loc[pd.Timestamp("2026-03-29"), 10] == 2.0
    full = slots[slots["available"] == 0]
    assert (heatmap_table(full, rows="local_date", cols="local_hour").fillna(0) == 0).all(axis=None)
    assert np.isnan(table.loc[pd.Timestamp("2026-03-29"), 14])


def test_utilization_is_one_minus_free_over_capacity(frames):
    slots, _ = frames
    table = heatmap_table(slots, rows="weekday", cols="local_hour", value="utilization")
    assert table.loc[5, 9] == pytest.approx(1 - 1 / 4)
    assert table.loc[6, 10] == pytest.approx(1 - 2 / 4)


def test_slots_count_by_service_and_location_per_date_or_in_all(frames):
    slots, _ = frames
    total = heatmap_table(slots, rows="service", cols="location", value="slots", agg="sum")
    per_date = heatmap_table(slots, rows="service", cols="location", value="slots")
    assert total.loc["s_cut", "l_ldn"] == 5  # 3 on Saturday, 2 on Sunday
    assert per_date.loc["s_cut", "l_ldn"] == 2.5


def test_utilization_without_capacity_is_a_clear_error():
    slots, _ = _snapshot(
        [
            {
                "date": "2026-03-28",
                "status": "open",
                "slots": [{"start": "2026-03-28T09:00:00+00:00"}],
            }
        ]
    )
    with pytest.raises(InputError, match="utilization needs capacity"):
        heatmap_table(slots, value="utilization")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": "month"}, "rows='month' is not one of"),
        ({"value": "free"}, "value='free'"),
        ({"agg": "median"}, "agg='median'"),
        ({"rows": "weekday", "cols": "weekday"}, "must differ"),
    ],
)
def test_bad_heatmap_choices_list_what_is_allowed(frames, kwargs, message):
    with pytest.raises(InputError, match=message):
        heatmap_table(frames[0], **kwargs)


def test_daily_capacity_keeps_holidays_apart_from_fully_booked(frames):
    slots, days = frames
    daily = daily_capacity(slots, days).set_index("local_date")
    assert daily.loc[pd.Timestamp("2026-03-28"), "free_capacity"] == 2
    assert daily.loc[pd.Timestamp("2026-03-28"), "capacity"] == 5
    friday = daily.loc[pd.Timestamp("2026-04-03")]
    assert friday.status == "holiday" and friday.holiday_name == "Good Friday"
    assert not friday.fully_booked


def test_a_day_with_nothing_free_is_fully_booked():
    full = [
        {
            "date": "2026-03-28",
            "status": "open",
            "slots": [_slot("2026-03-28T09:00:00+00:00", 2, 0)],
        }
    ]
    slots, days = _snapshot(full)
    assert daily_capacity(slots, days).fully_booked.tolist() == [True]


def test_next_available_skips_full_slots_and_shows_local_time(frames):
    row = next_available(frames[0]).iloc[0]
    assert row.slot_start == pd.Timestamp("2026-03-28T09:00Z")
    assert row.local_start == "2026-03-28 09:00"
    assert row.lead_time_hours == pytest.approx(25.0)


def test_service_overview_counts_open_days_and_saturated_hours(frames):
    slots, days = frames
    row = service_overview(slots, days).iloc[0]
    assert row.open_days == 2
    assert row.free_capacity_per_open_day == pytest.approx((2 + 2) / 2)
    # local hours offered: Sat 9 (1 free), Sat 14 (1 free), Sun 10 (2 free): none saturated
    assert row.saturated_hours_share == 0.0


# -- trends ---------------------------------------------------------------------------------------


def _history():
    """Two snapshots a day apart: one slot taken, one vanished (booked), one released."""
    before = [
        {
            "date": "2026-03-30",
            "status": "open",
            "slots": [
                _slot("2026-03-30T09:00:00+01:00", 2, 2),
                _slot("2026-03-30T10:00:00+01:00", 1, 1),
                _slot("2026-03-30T11:00:00+01:00", 1, 0),
                _slot("2026-03-30T12:00:00+01:00", 1, 1),
            ],
        }
    ]
    after = [
        {
            "date": "2026-03-30",
            "status": "open",
            "slots": [
                _slot("2026-03-30T09:00:00+01:00", 2, 1),
                _slot("2026-03-30T11:00:00+01:00", 1, 1),
                _slot("2026-03-30T12:00:00+01:00", 1, 1),
            ],
        }
    ]
    a, _ = _snapshot(before, "2026-03-27T08:00:00+00:00", "a")
    b, _ = _snapshot(after, "2026-03-28T08:00:00+00:00", "b")
    return pd.concat([a, b], ignore_index=True)


def test_booking_pace_counts_taken_vanished_and_released_slots():
    pace = booking_pace(_history()).iloc[0]
    assert (pace.from_snapshot, pace.to_snapshot) == ("a", "b")
    assert pace.slots_taken == 2  # 09:00 went 2 -> 1, 10:00 vanished
    assert pace.slots_released == 1  # 11:00 went 0 -> 1
    assert pace.days_elapsed == 1.0 and pace.taken_per_day == 2.0


def test_booking_pace_of_one_snapshot_is_empty():
    assert booking_pace(_history().query("snapshot_id == 'a'")).empty


def test_lead_time_trend_follows_the_next_free_slot():
    trend = lead_time_trend(_history())
    assert trend.snapshot_id.tolist() == ["a", "b"]
    assert trend.next_lead_time_hours.tolist() == pytest.approx(
        [72.0, 48.0]
    )  # 09:00 BST = 08:00 UTC


def test_fill_curve_measures_days_before_local_midnight():
    curve = fill_curves(_history(), dates=["2026-03-30"])
    # local midnight of 2026-03-30 in London (BST) is 2026-03-29T23:00Z
    assert curve.days_before.iloc[0] == pytest.approx(
        (pd.Timestamp("2026-03-29T23:00Z") - pd.Timestamp("2026-03-27T08:00Z"))
        / pd.Timedelta(days=1)
    )
    assert curve.free_capacity.tolist() == [4, 3]


def test_trends_name_missing_columns():
    with pytest.raises(InputError, match="available"):
        booking_pace(_history().drop(columns="available"))
