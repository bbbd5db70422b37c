"""GET /api/v1/availability of the sandbox: shape, slots, DST, holidays and errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from conftest import UNLIMITED, Api, assert_error, parse_ts

from zimun_analytics.sandbox import Sandbox

SUBDIVISIONS = {
    "l_berlin": ("DE", "BE"),
    "l_munich": ("DE", "BY"),
    "l_london": ("GB", "ENG"),
    "l_newyork": ("US", "NY"),
}
EASTER_2026 = ("2026-04-03", "2026-04-06")  # Good Friday, Easter Monday
# 2026-03-23 + 14 days ends on 2026-04-05, so Easter Monday needs a 15-day window.
EASTER_WINDOW = 15


def all_slots(doc: dict) -> list[dict]:
    return [slot for day in doc["days"] for slot in day["slots"]]


def oracle(location_id: str, first: date, days: int) -> dict[str, str]:
    """Public holidays of the location per the holidays package, in the window."""
    country, subdiv = SUBDIVISIONS[location_id]
    years = range(first.year, (first + timedelta(days=days)).year + 1)
    table = holidays.country_holidays(country, subdiv=subdiv, years=years)
    window = {first + timedelta(days=i) for i in range(days)}
    return {d.isoformat(): name for d, name in table.items() if d in window}


@pytest.fixture(scope="module")
def berlin14(demo: Api) -> dict:
    return demo.availability("s_eyebrow", days_ahead=14)


@pytest.fixture(scope="module")
def early_march() -> Iterator[Api]:
    """A sandbox whose clock stands before the US switch to daylight saving time."""
    with Sandbox(seed=1, now="2026-03-02T08:00:00Z", **UNLIMITED) as sb:
        api = Api(sb, "demo")
        yield api
        api.close()


# -- shape ------------------------------------------------------------------------------------


def test_availability_echoes_organization_service_and_location(demo):
    doc = demo.availability("s_eyebrow")
    assert doc["organization_id"] == "o_demo"
    assert doc["service_id"] == "s_eyebrow"
    assert doc["location_id"] == "l_berlin"
    assert doc["timezone"] == "Europe/Berlin"


def test_availability_echoes_the_requested_location(demo):
    doc = demo.availability("s_haircut", "l_london")
    assert (doc["location_id"], doc["timezone"]) == ("l_london", "Europe/London")


def test_start_date_defaults_to_today_in_the_location(demo):
    doc = demo.availability("s_eyebrow")
    today = demo.sb.now().astimezone(ZoneInfo("Europe/Berlin")).date()
    assert doc["start_date"] == today.isoformat()


def test_days_ahead_defaults_to_7(demo):
    doc = demo.availability("s_eyebrow")
    assert doc["days_ahead"] == 7
    assert len(doc["days"]) == 7


@pytest.mark.parametrize("days_ahead", [1, 14, 60])
def test_days_has_exactly_days_ahead_entries(demo, days_ahead):
    doc = demo.availability("s_eyebrow", days_ahead=days_ahead)
    assert len(doc["days"]) == days_ahead


def test_days_are_consecutive_from_start_date(demo):
    doc = demo.availability("s_haircut", "l_munich", start_date="2026-04-01", days_ahead=10)
    first = date.fromisoformat("2026-04-01")
    assert [day["date"] for day in doc["days"]] == [
        (first + timedelta(days=i)).isoformat() for i in range(10)
    ]


def test_generated_at_is_the_sandbox_clock_in_utc(demo):
    doc = demo.availability("s_eyebrow")
    assert doc["generated_at"].endswith("Z")
    assert parse_ts(doc["generated_at"]) == demo.sb.now()


@pytest.mark.parametrize(("service_id", "minutes"), [("s_eyebrow", 15), ("s_color", 90)])
def test_slot_duration_minutes_is_the_services_duration(demo, service_id, minutes):
    location = demo.services()[service_id]["location_ids"][0]
    assert demo.availability(service_id, location)["slot_duration_minutes"] == minutes


def test_day_status_is_open_closed_or_holiday(berlin14):
    assert {day["status"] for day in berlin14["days"]} <= {"open", "closed", "holiday"}


def test_only_open_days_have_slots(berlin14):
    for day in berlin14["days"]:
        if day["status"] != "open":
            assert day["slots"] == [], day


# -- slots ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service_id", "location_id"),
    [
        ("s_eyebrow", None),
        ("s_haircut", "l_newyork"),
        ("s_color", None),
        ("s_massage_60", "l_munich"),
    ],
)
def test_available_is_between_zero_and_capacity(demo, service_id, location_id):
    location_id = location_id or demo.services()[service_id]["location_ids"][0]
    slots = all_slots(demo.availability(service_id, location_id, days_ahead=14))
    assert slots
    for slot in slots:
        assert 0 <= slot["available"] <= slot["capacity"], slot
        assert slot["capacity"] >= 1, slot


def test_slot_end_is_start_plus_duration(demo):
    slots = all_slots(demo.availability("s_haircut", "l_london", days_ahead=14))
    assert slots
    for slot in slots:
        assert parse_ts(slot["end"]) - parse_ts(slot["start"]) == timedelta(minutes=30), slot


def test_slots_sit_on_the_service_grid(demo):
    service = demo.services()["s_color"]
    step = timedelta(minutes=service["duration_minutes"] + service["buffer_minutes"])
    doc = demo.availability("s_color", service["location_ids"][0], days_ahead=14)
    assert all_slots(doc)
    for day in doc["days"]:
        starts = [parse_ts(slot["start"]) for slot in day["slots"]]
        assert starts == sorted(starts)
        for earlier, later in zip(starts, starts[1:], strict=False):
            assert (later - earlier) % step == timedelta(0), (earlier, later)


@pytest.mark.parametrize("location_id", sorted(SUBDIVISIONS))
def test_slots_carry_the_locations_offset(demo, location_id):
    doc = demo.availability("s_haircut", location_id, days_ahead=14)
    zone = ZoneInfo(doc["timezone"])
    assert all_slots(doc)
    for slot in all_slots(doc):
        start = parse_ts(slot["start"])
        assert start.utcoffset() == start.astimezone(zone).utcoffset(), slot
        assert (
            parse_ts(slot["end"]).utcoffset() == parse_ts(slot["end"]).astimezone(zone).utcoffset()
        )


def test_slots_lie_on_their_day(demo):
    doc = demo.availability("s_haircut", "l_newyork", days_ahead=14)
    assert all_slots(doc)
    for day in doc["days"]:
        for slot in day["slots"]:
            assert slot["start"][:10] == day["date"], (day["date"], slot)


def test_no_slot_lies_in_the_past(demo):
    now = demo.sb.now()
    for location_id in SUBDIVISIONS:
        slots = all_slots(demo.availability("s_haircut", location_id, days_ahead=2))
        assert slots, location_id
        for slot in slots:
            assert parse_ts(slot["start"]) >= now, slot


def test_open_days_offer_slots(berlin14):
    assert any(day["status"] == "open" and day["slots"] for day in berlin14["days"])


# -- weekdays and DST -------------------------------------------------------------------------


def test_berlin_is_closed_on_sunday(demo):
    doc = demo.availability("s_eyebrow", start_date="2026-03-29", days_ahead=1)
    assert doc["days"][0]["status"] == "closed"
    assert doc["days"][0]["slots"] == []


@pytest.mark.parametrize("location_id", ["l_london", "l_newyork"])
def test_london_and_new_york_are_open_on_sunday(demo, location_id):
    doc = demo.availability("s_haircut", location_id, start_date="2026-03-29", days_ahead=1)
    assert doc["days"][0]["status"] == "open"
    assert doc["days"][0]["slots"]


@pytest.mark.parametrize(
    ("location_id", "day", "offset"),
    [
        ("l_london", "2026-03-28", "+00:00"),
        ("l_london", "2026-03-29", "+01:00"),
        ("l_london", "2026-10-24", "+01:00"),
        ("l_london", "2026-10-25", "+00:00"),
        ("l_newyork", "2026-10-31", "-04:00"),
        ("l_newyork", "2026-11-01", "-05:00"),
    ],
)
def test_dst_days_carry_the_right_offset(demo, location_id, day, offset):
    doc = demo.availability("s_haircut", location_id, start_date=day, days_ahead=1)
    slots = doc["days"][0]["slots"]
    assert slots, doc["days"][0]
    assert {slot["start"][-6:] for slot in slots} == {offset}
    assert {slot["end"][-6:] for slot in slots} == {offset}


@pytest.mark.parametrize(("day", "offset"), [("2026-03-07", "-05:00"), ("2026-03-08", "-04:00")])
def test_us_spring_dst_days_carry_the_right_offset(early_march, day, offset):
    doc = early_march.availability("s_haircut", "l_newyork", start_date=day, days_ahead=1)
    slots = doc["days"][0]["slots"]
    assert slots, doc["days"][0]
    assert {slot["start"][-6:] for slot in slots} == {offset}


def test_dst_day_slots_keep_their_real_duration(demo):
    doc = demo.availability("s_haircut", "l_london", start_date="2026-10-25", days_ahead=1)
    assert doc["days"][0]["slots"]
    for slot in doc["days"][0]["slots"]:
        assert parse_ts(slot["end"]) - parse_ts(slot["start"]) == timedelta(minutes=30)


def test_start_date_a_year_ahead_is_accepted(demo):
    ahead = (demo.sb.now().date() + timedelta(days=365)).isoformat()
    doc = demo.availability("s_eyebrow", start_date=ahead, days_ahead=1)
    assert doc["start_date"] == ahead


# -- holidays ---------------------------------------------------------------------------------


@pytest.mark.parametrize("day", EASTER_2026)
@pytest.mark.parametrize("location_id", ["l_berlin", "l_munich", "l_london"])
def test_easter_holidays_have_status_holiday(demo, location_id, day):
    doc = demo.availability("s_haircut", location_id, days_ahead=EASTER_WINDOW)
    entry = next(d for d in doc["days"] if d["date"] == day)
    assert entry["status"] == "holiday"
    assert entry["slots"] == []


@pytest.mark.parametrize("day", EASTER_2026)
@pytest.mark.parametrize("location_id", ["l_berlin", "l_munich", "l_london"])
def test_easter_holidays_are_in_the_holiday_map(demo, location_id, day):
    doc = demo.availability("s_haircut", location_id, days_ahead=EASTER_WINDOW)
    assert doc["holidays"][day]["kind"] == "public_holiday"
    assert doc["holidays"][day]["name"]


@pytest.mark.parametrize("day", EASTER_2026)
def test_new_york_is_open_on_easter_holidays(demo, day):
    doc = demo.availability("s_haircut", "l_newyork", days_ahead=EASTER_WINDOW)
    entry = next(d for d in doc["days"] if d["date"] == day)
    assert entry["status"] == "open"
    assert day not in doc["holidays"]


@pytest.mark.parametrize("start_date", [None, "2026-12-20"])
@pytest.mark.parametrize("location_id", sorted(SUBDIVISIONS))
def test_public_holidays_follow_the_locations_country(demo, location_id, start_date):
    params = {"start_date": start_date} if start_date else {}
    doc = demo.availability("s_haircut", location_id, days_ahead=14, **params)
    public = {d for d, entry in doc["holidays"].items() if entry["kind"] == "public_holiday"}
    expected = oracle(location_id, date.fromisoformat(doc["start_date"]), 14)
    assert public == set(expected)


@pytest.mark.parametrize("location_id", sorted(SUBDIVISIONS))
def test_public_holiday_names_come_from_the_calendar(demo, location_id):
    doc = demo.availability("s_haircut", location_id, start_date="2026-12-20", days_ahead=14)
    names = {d: e["name"] for d, e in doc["holidays"].items() if e["kind"] == "public_holiday"}
    assert names == oracle(location_id, date.fromisoformat("2026-12-20"), 14)


def test_holiday_map_includes_weekend_holidays(demo):
    doc = demo.availability("s_eyebrow", start_date="2026-12-20", days_ahead=14)
    assert date.fromisoformat("2026-12-26").weekday() == 5
    assert doc["holidays"]["2026-12-26"]["kind"] == "public_holiday"


def test_holiday_map_days_have_no_slots(demo):
    doc = demo.availability("s_eyebrow", start_date="2026-12-20", days_ahead=14)
    days = {day["date"]: day for day in doc["days"]}
    assert doc["holidays"]
    for holiday in doc["holidays"]:
        assert days[holiday]["status"] != "open"
        assert days[holiday]["slots"] == []


def test_berlin_has_a_named_closed_override_in_the_first_14_days(berlin14):
    closed = {d: e for d, e in berlin14["holidays"].items() if e["kind"] == "closed"}
    assert closed
    assert all(isinstance(e["name"], str) and e["name"] for e in closed.values())


def test_closed_override_day_is_a_holiday_without_slots(berlin14):
    closed = [d for d, e in berlin14["holidays"].items() if e["kind"] == "closed"]
    days = {day["date"]: day for day in berlin14["days"]}
    assert closed
    for day in closed:
        assert days[day]["status"] == "holiday"
        assert days[day]["slots"] == []


def test_holiday_kinds_are_public_holiday_or_closed(berlin14):
    assert {e["kind"] for e in berlin14["holidays"].values()} <= {"public_holiday", "closed"}


def test_inactive_service_is_closed_every_day(demo):
    location = demo.services()["s_legacy_perm"]["location_ids"][0]
    doc = demo.availability("s_legacy_perm", location, days_ahead=14)
    assert {day["status"] for day in doc["days"]} == {"closed"}
    assert all_slots(doc) == []


# -- omit_full_slots --------------------------------------------------------------------------


def test_fully_held_slot_is_listed_with_zero_available(demo):
    slot = demo.find_slot("s_eyebrow", min_available=1)
    for _ in range(slot["available"]):
        demo.held("s_eyebrow", slot["start"])
    assert demo.slot("s_eyebrow", slot["start"])["available"] == 0


def test_omit_full_slots_drops_fully_held_slots(make_sandbox, make_api):
    api = make_api(make_sandbox(omit_full_slots=True, **UNLIMITED))
    slot = api.find_slot("s_eyebrow", min_available=1)
    for _ in range(slot["available"]):
        api.held("s_eyebrow", slot["start"])
    assert api.slot("s_eyebrow", slot["start"]) is None


def test_omit_full_slots_lists_no_slot_with_zero_available(make_sandbox, make_api):
    api = make_api(make_sandbox(omit_full_slots=True, **UNLIMITED))
    slot = api.find_slot("s_eyebrow", min_available=1)
    for _ in range(slot["available"]):
        api.held("s_eyebrow", slot["start"])
    doc = api.availability("s_eyebrow", days_ahead=14)
    assert all(s["available"] >= 1 for s in all_slots(doc))


# -- errors -----------------------------------------------------------------------------------


def test_missing_service_id_is_invalid_request(demo):
    response = demo.http.get("/api/v1/availability", params={"days_ahead": 7})
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("days_ahead", ["0", "61", "-1", "abc", "", "7.5", "1000000"])
def test_days_ahead_out_of_range_is_invalid_request(demo, days_ahead):
    params = {"service_id": "s_eyebrow", "days_ahead": days_ahead}
    response = demo.http.get("/api/v1/availability", params=params)
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "start_date", ["2026-3-24", "24.03.2026", "2026-02-30", "tomorrow", "2026-03-24T00:00:00Z"]
)
def test_malformed_start_date_is_invalid_request(demo, start_date):
    params = {"service_id": "s_eyebrow", "start_date": start_date}
    response = demo.http.get("/api/v1/availability", params=params)
    assert_error(response, 400, "invalid_request")


def test_unknown_service_is_not_found(demo):
    response = demo.http.get("/api/v1/availability", params={"service_id": "s_nope"})
    assert_error(response, 404, "not_found")


def test_unknown_location_is_not_found(demo):
    params = {"service_id": "s_haircut", "location_id": "l_nowhere"}
    response = demo.http.get("/api/v1/availability", params=params)
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("service_id", ["s_haircut", "s_massage_60"])
def test_multi_location_service_without_location_is_location_required(demo, service_id):
    response = demo.http.get("/api/v1/availability", params={"service_id": service_id})
    assert_error(response, 400, "location_required")
