"""Hold, release, confirm, reschedule and cancel on the sandbox, with their emails."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import HOLD_TTL, TIMEOUT_S, Api, as_utc_z, assert_error, parse_ts

HOLD = "/api/v1/appointments/hold"
CONFIRM = "/api/v1/appointments/confirm"
RACERS = 30


def shift(start: str, **delta: float) -> str:
    """The instant `start` moved by a timedelta, written with the same offset."""
    return (parse_ts(start) + timedelta(**delta)).isoformat()


def same_time_on(start: str, day: str, timezone: str = "Europe/Berlin") -> str:
    """The wall-clock time of `start` on another local day, with that day's offset."""
    wall = datetime.combine(date.fromisoformat(day), parse_ts(start).time())
    return wall.replace(tzinfo=ZoneInfo(timezone)).isoformat()


def find_capacity_one_slot(api: Api) -> tuple[str, str, dict]:
    """(service_id, location_id, slot) of a free slot that only one person can take."""
    for service_id, service in api.services().items():
        if not service["active"]:
            continue
        for location_id in service["location_ids"]:
            try:
                return service_id, location_id, api.find_slot(service_id, location_id, capacity=1)
            except AssertionError:
                continue
    raise AssertionError("no free slot with capacity 1 in any service")


@pytest.fixture
def appointment(demo: Api) -> dict[str, Any]:
    """A fresh confirmed s_eyebrow appointment."""
    slot = demo.find_slot()
    return demo.book("s_eyebrow", slot["start"], email="dana@example.com")


@pytest.fixture
def hold(demo: Api) -> dict[str, Any]:
    """A fresh s_eyebrow hold."""
    return demo.held("s_eyebrow", demo.find_slot()["start"])


# -- hold -------------------------------------------------------------------------------------


def test_hold_returns_201_with_a_held_hold(demo):
    slot = demo.find_slot()
    response = demo.http.post(HOLD, json=demo.hold_body("s_eyebrow", slot["start"]))
    assert response.status_code == 201
    body = response.json()
    assert body["hold_id"].startswith("h_")
    assert body["status"] == "held"
    assert (body["organization_id"], body["service_id"]) == ("o_demo", "s_eyebrow")
    assert body["location_id"] == "l_berlin"
    assert body["appointment_duration"] == 15


def test_hold_appointment_time_uses_the_locations_offset(demo):
    slot = demo.find_slot()
    response = demo.http.post(HOLD, json=demo.hold_body("s_eyebrow", as_utc_z(slot["start"])))
    assert response.status_code == 201
    assert response.json()["appointment_time"] == slot["start"]


def test_hold_expires_ten_minutes_after_creation_in_utc(demo):
    slot = demo.find_slot()
    body = demo.held("s_eyebrow", slot["start"])
    assert body["expires_at"].endswith("Z")
    assert parse_ts(body["expires_at"]) == demo.sb.now() + HOLD_TTL


def test_hold_takes_one_from_available(demo):
    slot = demo.find_slot(min_available=1)
    demo.held("s_eyebrow", slot["start"])
    assert demo.available("s_eyebrow", slot["start"]) == slot["available"] - 1


def test_hold_with_location_id_at_a_multi_location_service(demo):
    slot = demo.find_slot("s_haircut", "l_munich")
    response = demo.hold("s_haircut", slot["start"], "l_munich")
    assert response.status_code == 201
    assert response.json()["location_id"] == "l_munich"


def test_hold_without_location_at_a_multi_location_service_is_location_required(demo):
    slot = demo.find_slot("s_haircut", "l_munich")
    response = demo.hold("s_haircut", slot["start"])
    assert_error(response, 400, "location_required")


def test_hold_without_offset_is_a_validation_error(demo):
    slot = demo.find_slot()
    body = {**demo.hold_body("s_eyebrow", slot["start"]), "appointment_time": slot["start"][:19]}
    error = assert_error(demo.http.post(HOLD, json=body), 422, "validation_error")
    assert "appointment_time" in {d["field"] for d in error["details"]}


def test_hold_off_the_grid_is_a_validation_error(demo):
    slot = demo.find_slot()
    body = demo.hold_body("s_eyebrow", shift(slot["start"], minutes=7))
    error = assert_error(demo.http.post(HOLD, json=body), 422, "validation_error")
    assert error["details"]


def test_hold_with_the_wrong_duration_is_a_validation_error(demo):
    slot = demo.find_slot()
    body = {**demo.hold_body("s_eyebrow", slot["start"]), "appointment_duration": 30}
    error = assert_error(demo.http.post(HOLD, json=body), 422, "validation_error")
    assert "appointment_duration" in {d["field"] for d in error["details"]}


@pytest.mark.parametrize("duration", ["15", None, 15.5, [15]])
def test_hold_with_an_ill_typed_duration_is_a_validation_error(demo, duration):
    body = {
        **demo.hold_body("s_eyebrow", demo.find_slot()["start"]),
        "appointment_duration": duration,
    }
    error = assert_error(demo.http.post(HOLD, json=body), 422, "validation_error")
    assert "appointment_duration" in {d["field"] for d in error["details"]}


def test_hold_at_an_unknown_location_is_not_found(demo):
    body = demo.hold_body("s_eyebrow", demo.find_slot()["start"], location_id="l_nowhere")
    assert_error(demo.http.post(HOLD, json=body), 404, "not_found")


@pytest.mark.parametrize("field", ["organization_id", "service_id", "appointment_time"])
def test_hold_missing_a_required_field_is_a_validation_error(demo, field):
    body = demo.hold_body("s_eyebrow", demo.find_slot()["start"])
    del body[field]
    error = assert_error(demo.http.post(HOLD, json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}


def test_hold_on_a_closed_day_is_slot_unavailable(demo):
    doc = demo.availability("s_eyebrow", days_ahead=14)
    closed = next(day["date"] for day in doc["days"] if day["status"] == "closed")
    slot = demo.find_slot()
    assert_error(
        demo.hold("s_eyebrow", same_time_on(slot["start"], closed)), 409, "slot_unavailable"
    )


def test_hold_on_a_public_holiday_is_slot_unavailable(demo):
    good_friday = same_time_on(demo.find_slot()["start"], "2026-04-03")
    assert_error(demo.hold("s_eyebrow", good_friday), 409, "slot_unavailable")


def test_hold_in_the_past_is_slot_unavailable(demo):
    slot = demo.find_slot()
    past = shift(slot["start"], days=-14)
    assert parse_ts(past) < demo.sb.now()
    assert_error(demo.hold("s_eyebrow", past), 409, "slot_unavailable")


def opening_time(api: Api, location_id: str) -> str:
    """The earliest slot start, over the location's services, of an open day a week ahead."""
    day = (api.sb.now() + timedelta(days=7)).date()
    while True:
        starts = []
        for service_id, service in api.services().items():
            if service["active"] and location_id in service["location_ids"]:
                doc = api.availability(
                    service_id, location_id, start_date=day.isoformat(), days_ahead=1
                )
                starts += [s["start"] for s in doc["days"][0]["slots"]]
        if starts:
            return min(starts, key=parse_ts)
        day += timedelta(days=1)


def test_hold_on_an_inactive_service_is_slot_unavailable(demo):
    service = demo.services()["s_legacy_perm"]
    location_id = service["location_ids"][0]
    body = {
        "organization_id": "o_demo",
        "service_id": "s_legacy_perm",
        "appointment_time": opening_time(demo, location_id),
        "appointment_duration": service["duration_minutes"],
        "location_id": location_id,
    }
    assert_error(demo.http.post(HOLD, json=body), 409, "slot_unavailable")


def test_hold_of_an_unknown_service_is_not_found(demo):
    body = {**demo.hold_body("s_eyebrow", demo.find_slot()["start"]), "service_id": "s_nope"}
    assert_error(demo.http.post(HOLD, json=body), 404, "not_found")


def test_hold_race_on_a_capacity_one_slot_has_exactly_one_winner(demo):
    service_id, location_id, slot = find_capacity_one_slot(demo)
    body = demo.hold_body(service_id, slot["start"], location_id)
    barrier = threading.Barrier(RACERS)
    headers = {"Authorization": f"Bearer {demo.token}"}

    with httpx.Client(base_url=demo.sb.base_url, headers=headers, timeout=TIMEOUT_S) as client:

        def race(_: int) -> httpx.Response:
            barrier.wait()
            return client.post(HOLD, json=body)

        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            responses = list(pool.map(race, range(RACERS)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (RACERS - 1)
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "slot_unavailable")
    assert demo.available(service_id, slot["start"], location_id) == 0


# -- release ----------------------------------------------------------------------------------


def test_release_returns_204(demo, hold):
    response = demo.http.delete(f"{HOLD}/{hold['hold_id']}")
    assert response.status_code == 204
    assert response.content == b""


def test_release_frees_the_slot_at_once(demo):
    slot = demo.find_slot()
    hold = demo.held("s_eyebrow", slot["start"])
    demo.http.delete(f"{HOLD}/{hold['hold_id']}")
    assert demo.available("s_eyebrow", slot["start"]) == slot["available"]


def test_confirm_after_release_is_hold_expired(demo, hold):
    demo.http.delete(f"{HOLD}/{hold['hold_id']}")
    assert_error(demo.confirm(hold["hold_id"]), 410, "hold_expired")


def test_release_of_an_unknown_hold_is_not_found(demo):
    assert_error(demo.http.delete(f"{HOLD}/h_nope"), 404, "not_found")


# -- hold expiry --------------------------------------------------------------------------------


def test_confirm_after_ten_minutes_is_hold_expired(make_sandbox, make_api):
    sb = make_sandbox()
    api = make_api(sb)
    hold = api.held("s_eyebrow", api.find_slot()["start"])
    sb.advance(HOLD_TTL.total_seconds())
    assert_error(api.confirm(hold["hold_id"]), 410, "hold_expired")


def test_expired_hold_frees_the_slot(make_sandbox, make_api):
    sb = make_sandbox()
    api = make_api(sb)
    slot = api.find_slot()
    api.held("s_eyebrow", slot["start"])
    sb.advance(HOLD_TTL.total_seconds())
    assert api.available("s_eyebrow", slot["start"]) == slot["available"]


def test_hold_is_still_confirmable_just_before_expiry(make_sandbox, make_api):
    sb = make_sandbox()
    api = make_api(sb)
    hold = api.held("s_eyebrow", api.find_slot()["start"])
    sb.advance(HOLD_TTL.total_seconds() - 1)
    assert api.confirm(hold["hold_id"]).status_code == 201


# -- confirm ----------------------------------------------------------------------------------


def test_confirm_returns_201_with_a_confirmed_appointment(demo, hold):
    response = demo.http.post(
        CONFIRM,
        json={
            "hold_id": hold["hold_id"],
            "contact_name": "Dana Lee",
            "contact_email": "dana@example.com",
            "contact_phone": "+49 30 1234567",
            "notes": "first visit",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["appointment_id"].startswith("a_")
    assert body["status"] == "confirmed"
    assert body["hold_id"] == hold["hold_id"]
    assert (body["contact_name"], body["contact_email"]) == ("Dana Lee", "dana@example.com")


def test_confirm_keeps_the_holds_booking_fields(demo, hold):
    body = demo.confirm(hold["hold_id"]).json()
    for field in (
        "organization_id",
        "service_id",
        "location_id",
        "appointment_time",
        "appointment_duration",
    ):
        assert body[field] == hold[field], field


def test_appointment_timestamps_are_utc(demo, hold):
    body = demo.confirm(hold["hold_id"]).json()
    for field in ("created_at", "updated_at"):
        assert body[field].endswith("Z")
        assert parse_ts(body[field]) == demo.sb.now()


def test_confirmed_slot_stays_taken_once(demo):
    slot = demo.find_slot()
    demo.book("s_eyebrow", slot["start"])
    assert demo.available("s_eyebrow", slot["start"]) == slot["available"] - 1


def test_confirm_sends_a_confirmation_email(demo, hold):
    appointment = demo.confirm(hold["hold_id"], email="conf@example.com").json()
    emails = demo.emails(appointment["appointment_id"])
    assert [(m["kind"], m["to"]) for m in emails] == [("confirmed", "conf@example.com")]
    assert emails[0]["subject"] and emails[0]["body"] and emails[0]["sent_at"]


def test_confirm_twice_is_hold_already_confirmed(demo, hold):
    demo.confirm(hold["hold_id"])
    assert_error(demo.confirm(hold["hold_id"]), 409, "hold_already_confirmed")


def test_confirm_of_an_unknown_hold_is_not_found(demo):
    assert_error(demo.confirm("h_nope"), 404, "not_found")


@pytest.mark.parametrize(
    "email", ["not-an-email", "dana@", "@example.com", "dana example@x.com", "", 42, None]
)
def test_confirm_with_a_bad_email_is_a_validation_error(demo, hold, email):
    body = {"hold_id": hold["hold_id"], "contact_name": "Dana Lee", "contact_email": email}
    error = assert_error(demo.http.post(CONFIRM, json=body), 422, "validation_error")
    assert "contact_email" in {d["field"] for d in error["details"]}
    assert all(d["message"] for d in error["details"])


@pytest.mark.parametrize(("field", "value"), [("contact_phone", 4930123), ("notes", ["x"])])
def test_confirm_with_an_ill_typed_optional_field_is_a_validation_error(demo, hold, field, value):
    body = {
        "hold_id": hold["hold_id"],
        "contact_name": "Dana Lee",
        "contact_email": "dana@example.com",
        field: value,
    }
    error = assert_error(demo.http.post(CONFIRM, json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}


@pytest.mark.parametrize("field", ["hold_id", "contact_name", "contact_email"])
def test_confirm_missing_a_required_field_is_a_validation_error(demo, hold, field):
    body = {"hold_id": hold["hold_id"], "contact_name": "Dana", "contact_email": "d@example.com"}
    del body[field]
    error = assert_error(demo.http.post(CONFIRM, json=body), 422, "validation_error")
    assert field in {d["field"] for d in error["details"]}


def test_get_appointment_returns_it(demo, appointment):
    response = demo.http.get(f"/api/v1/appointments/{appointment['appointment_id']}")
    assert response.status_code == 200
    assert response.json() == appointment


def test_get_unknown_appointment_is_not_found(demo):
    assert_error(demo.http.get("/api/v1/appointments/a_nope"), 404, "not_found")


# -- reschedule -------------------------------------------------------------------------------


def test_reschedule_moves_the_appointment(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    response = demo.patch(appointment["appointment_id"], {"appointment_time": target["start"]})
    assert response.status_code == 200
    assert response.json()["appointment_time"] == target["start"]
    assert response.json()["status"] == "confirmed"


def test_reschedule_frees_the_old_slot_and_takes_the_new(demo, appointment):
    old = appointment["appointment_time"]
    old_available = demo.available("s_eyebrow", old)
    target = demo.find_slot(exclude=(old,))
    demo.patch(appointment["appointment_id"], {"appointment_time": target["start"]})
    assert demo.available("s_eyebrow", old) == old_available + 1
    assert demo.available("s_eyebrow", target["start"]) == target["available"] - 1


def test_reschedule_accepts_utc_and_answers_in_the_locations_offset(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    response = demo.patch(
        appointment["appointment_id"], {"appointment_time": as_utc_z(target["start"])}
    )
    assert response.json()["appointment_time"] == target["start"]


def test_reschedule_sends_a_rescheduled_email(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    demo.patch(appointment["appointment_id"], {"appointment_time": target["start"]})
    kinds = [m["kind"] for m in demo.emails(appointment["appointment_id"])]
    assert kinds == ["confirmed", "rescheduled"]


def test_reschedule_updates_updated_at(make_sandbox, make_api):
    sb = make_sandbox()
    api = make_api(sb)
    appointment = api.book("s_eyebrow", api.find_slot()["start"])
    sb.advance(60)
    target = api.find_slot(exclude=(appointment["appointment_time"],))
    body = api.patch(appointment["appointment_id"], {"appointment_time": target["start"]}).json()
    assert parse_ts(body["updated_at"]) == sb.now()
    assert body["created_at"] == appointment["created_at"]


def test_reschedule_to_a_full_slot_is_slot_unavailable(demo, appointment):
    full = demo.find_slot(exclude=(appointment["appointment_time"],))
    for _ in range(full["available"]):
        demo.held("s_eyebrow", full["start"])
    response = demo.patch(appointment["appointment_id"], {"appointment_time": full["start"]})
    assert_error(response, 409, "slot_unavailable")


def test_reschedule_to_a_closed_day_is_slot_unavailable(demo, appointment):
    sunday = same_time_on(appointment["appointment_time"], "2026-03-29")
    response = demo.patch(appointment["appointment_id"], {"appointment_time": sunday})
    assert_error(response, 409, "slot_unavailable")


def test_failed_reschedule_keeps_the_appointment(demo, appointment):
    sunday = same_time_on(appointment["appointment_time"], "2026-03-29")
    demo.patch(appointment["appointment_id"], {"appointment_time": sunday})
    got = demo.http.get(f"/api/v1/appointments/{appointment['appointment_id']}").json()
    assert got["appointment_time"] == appointment["appointment_time"]


def test_reschedule_off_the_grid_is_a_validation_error(demo, appointment):
    off = shift(appointment["appointment_time"], days=1, minutes=7)
    response = demo.patch(appointment["appointment_id"], {"appointment_time": off})
    error = assert_error(response, 422, "validation_error")
    assert "appointment_time" in {d["field"] for d in error["details"]}


def test_reschedule_without_offset_is_a_validation_error(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    response = demo.patch(appointment["appointment_id"], {"appointment_time": target["start"][:19]})
    error = assert_error(response, 422, "validation_error")
    assert "appointment_time" in {d["field"] for d in error["details"]}


def test_reschedule_of_an_unknown_appointment_is_not_found(demo):
    target = demo.find_slot()
    assert_error(demo.patch("a_nope", {"appointment_time": target["start"]}), 404, "not_found")


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_returns_the_cancelled_appointment(demo, appointment):
    response = demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["appointment_id"] == appointment["appointment_id"]


def test_cancel_frees_the_slot_at_once(demo, appointment):
    before = demo.available("s_eyebrow", appointment["appointment_time"])
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    assert demo.available("s_eyebrow", appointment["appointment_time"]) == before + 1


def test_cancel_sends_a_cancelled_email(demo, appointment):
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    emails = demo.emails(appointment["appointment_id"])
    assert [(m["kind"], m["to"]) for m in emails] == [
        ("confirmed", "dana@example.com"),
        ("cancelled", "dana@example.com"),
    ]


def test_cancel_twice_is_a_200_no_op(demo, appointment):
    first = demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    second = demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    assert second.status_code == 200
    assert second.json() == first.json()


def test_cancel_twice_sends_one_email(demo, appointment):
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    kinds = [m["kind"] for m in demo.emails(appointment["appointment_id"])]
    assert kinds == ["confirmed", "cancelled"]


def test_cancel_twice_frees_the_slot_once(demo, appointment):
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    after_first = demo.available("s_eyebrow", appointment["appointment_time"])
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    assert demo.available("s_eyebrow", appointment["appointment_time"]) == after_first


def test_reschedule_of_a_cancelled_appointment_is_invalid_state(demo, appointment):
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    response = demo.patch(appointment["appointment_id"], {"appointment_time": target["start"]})
    assert_error(response, 409, "invalid_state")


def test_cancelled_appointment_reads_as_cancelled(demo, appointment):
    demo.patch(appointment["appointment_id"], {"status": "cancelled"})
    got = demo.http.get(f"/api/v1/appointments/{appointment['appointment_id']}")
    assert got.json()["status"] == "cancelled"


# -- PATCH validation -------------------------------------------------------------------------


def test_patch_with_both_fields_is_a_validation_error(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    body = {"appointment_time": target["start"], "status": "cancelled"}
    error = assert_error(demo.patch(appointment["appointment_id"], body), 422, "validation_error")
    assert error["details"]


def test_patch_with_both_fields_changes_nothing(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    demo.patch(
        appointment["appointment_id"], {"appointment_time": target["start"], "status": "cancelled"}
    )
    got = demo.http.get(f"/api/v1/appointments/{appointment['appointment_id']}").json()
    assert (got["status"], got["appointment_time"]) == (
        "confirmed",
        appointment["appointment_time"],
    )


@pytest.mark.parametrize(
    "body", [{}, {"status": "confirmed"}, {"status": "CANCELLED"}, {"status": 1}]
)
def test_patch_without_a_valid_change_is_a_validation_error(demo, appointment, body):
    error = assert_error(demo.patch(appointment["appointment_id"], body), 422, "validation_error")
    assert error["details"]


# -- body must be a JSON object ----------------------------------------------------------------


@pytest.mark.parametrize("content", [b"[]", b'"hold"', b"42", b"null", b"not json", b"{", b""])
@pytest.mark.parametrize("path", [HOLD, CONFIRM])
def test_post_body_that_is_not_a_json_object_is_invalid_request(demo, path, content):
    response = demo.http.post(path, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("content", [b"[]", b'"cancelled"', b"null", b"status=cancelled", b""])
def test_patch_body_that_is_not_a_json_object_is_invalid_request(demo, appointment, content):
    response = demo.http.patch(
        f"/api/v1/appointments/{appointment['appointment_id']}",
        content=content,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_request")
