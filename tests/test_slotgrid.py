"""The picker's hour grid, from hand-made responses: which hours are free, full, closed, past."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from zimun_analytics._models import Availability
from zimun_analytics.widgets._slotgrid import hour_grid, legend_html

BERLIN = ZoneInfo("Europe/Berlin")
DST_DAY, NEXT_DAY = date(2026, 3, 29), date(2026, 3, 30)  # clocks go forward on the 29th


def slot(start_utc: str, available: int) -> dict:
    return {"start": start_utc, "capacity": 1, "available": available}


def availability(generated_at: str | None, first_status: str = "open") -> Availability:
    """Two days at Berlin; the first (UTC+2 since 01:00 UTC) has slots at 13:00 and 14:00."""
    first = [slot("2026-03-29T11:00:00Z", 1), slot("2026-03-29T12:00:00Z", 0)]
    second = [slot(f"2026-03-30T{h:02d}:00:00Z", 1) for h in range(7, 13)]  # 09:00-14:00
    data = {
        "organization_id": "o_demo",
        "service_id": "s_x",
        "location_id": "l_berlin",
        "timezone": "Europe/Berlin",
        "start_date": "2026-03-29",
        "days_ahead": 2,
        "generated_at": generated_at,
        "days": [
            {"date": "2026-03-29", "status": first_status, "slots": first},
            {"date": "2026-03-30", "status": "open", "slots": second},
        ],
    }
    return Availability.from_json(data, endpoint="GET /api/v1/availability")


def kinds(grid: dict, day: date) -> dict[int, str]:
    return {hour: cell.kind for (d, hour), cell in grid.items() if d == day}


def test_hours_begun_without_slots_are_past_not_closed_on_a_dst_day():
    grid = hour_grid(availability("2026-03-29T10:30:00Z"), BERLIN)  # 12:30 in Berlin (CEST)
    assert kinds(grid, DST_DAY) == {
        9: "past",
        10: "past",
        11: "past",
        12: "past",
        13: "free",
        14: "full",
    }
    assert set(kinds(grid, NEXT_DAY).values()) == {"free"}


def test_an_hour_not_yet_begun_without_slots_stays_closed():
    grid = hour_grid(availability("2026-03-29T06:59:00Z"), BERLIN)  # 08:59 in Berlin
    assert kinds(grid, DST_DAY)[9] == "closed"


def test_the_given_now_wins_over_generated_at():
    now = datetime(2026, 3, 29, 7, 59, tzinfo=UTC)  # 09:59 in Berlin
    grid = hour_grid(availability("2026-03-29T10:30:00Z"), BERLIN, now=now)
    assert [kinds(grid, DST_DAY)[h] for h in (9, 10, 11)] == ["past", "closed", "closed"]


def test_without_any_clock_nothing_is_called_past():
    grid = hour_grid(availability(None), BERLIN)
    assert "past" not in {cell.kind for cell in grid.values()}


def test_a_closed_day_stays_closed_after_its_hours_begin():
    grid = hour_grid(availability("2026-03-29T10:30:00Z", first_status="closed"), BERLIN)
    assert set(kinds(grid, DST_DAY).values()) == {"closed"}


def test_the_legend_names_every_kind():
    legend = legend_html(most=3)
    for kind in ("free", "full", "closed", "past", "holiday"):
        assert f"zimun-legend-{kind}" in legend
