"""The sandbox's own clock, the demand simulation and the outbox (the /_sandbox endpoints)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from conftest import NOW, TIMEOUT_S, UNLIMITED, Api, parse_ts

FROZEN = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
# Tokens must outlive the advances of these tests.
LONG_TOKENS = {**UNLIMITED, "token_ttl": 30 * 86_400}
OUTBOX_FIELDS = {"kind", "to", "appointment_id", "sent_at", "subject", "body"}


def clock(sb) -> httpx.Response:
    return httpx.get(f"{sb.base_url}/_sandbox/clock", timeout=TIMEOUT_S)


def advance(sb, body: dict) -> httpx.Response:
    return httpx.post(f"{sb.base_url}/_sandbox/clock", json=body, timeout=TIMEOUT_S)


def total_free(api: Api, start_date: str) -> int:
    """Free places over two weeks from start_date, summed over every active service and location."""
    total = 0
    for service_id, service in api.services().items():
        if not service["active"]:
            continue
        for location_id in service["location_ids"]:
            doc = api.availability(service_id, location_id, start_date=start_date, days_ahead=14)
            total += sum(s["available"] for d in doc["days"] for s in d["slots"])
    return total


def test_clock_starts_at_the_frozen_instant(make_sandbox):
    response = clock(make_sandbox(now=NOW))
    assert response.status_code == 200
    assert parse_ts(response.json()["now"]) == FROZEN


def test_frozen_clock_stands_still(make_sandbox):
    sb = make_sandbox()
    assert clock(sb).json()["now"] == clock(sb).json()["now"]


def test_sandbox_now_reads_the_clock(make_sandbox):
    assert make_sandbox().now() == FROZEN


def test_advance_moves_the_clock_by_exactly_n_seconds(make_sandbox):
    sb = make_sandbox()
    response = advance(sb, {"advance_seconds": 90, "simulate": False})
    assert response.status_code == 200
    assert parse_ts(response.json()["now"]) == FROZEN + timedelta(seconds=90)
    assert sb.now() == FROZEN + timedelta(seconds=90)


def test_advances_add_up(make_sandbox):
    sb = make_sandbox()
    sb.advance(60)
    sb.advance(3600)
    assert sb.now() == FROZEN + timedelta(seconds=3660)


def test_advance_without_simulation_books_nothing(make_sandbox):
    sb = make_sandbox()
    response = advance(sb, {"advance_seconds": 86_400, "simulate": False})
    assert response.json()["booked"] == 0


def test_simulated_day_reports_booked_slots(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    response = advance(sb, {"advance_seconds": 86_400, "simulate": True})
    assert response.status_code == 200
    assert isinstance(response.json()["booked"], int)
    assert response.json()["booked"] >= 1


def test_simulated_day_leaves_fewer_free_slots(make_sandbox, make_api):
    sb = make_sandbox(**LONG_TOKENS)
    api = make_api(sb)
    start_date = (FROZEN + timedelta(days=2)).date().isoformat()
    before = total_free(api, start_date)
    sb.advance(86_400, simulate=True)
    assert total_free(api, start_date) < before


def test_unsimulated_day_leaves_future_slots_alone(make_sandbox, make_api):
    sb = make_sandbox(**LONG_TOKENS)
    api = make_api(sb)
    start_date = (FROZEN + timedelta(days=2)).date().isoformat()
    before = total_free(api, start_date)
    sb.advance(86_400, simulate=False)
    assert total_free(api, start_date) == before


def test_slots_before_the_new_now_are_not_listed(make_sandbox, make_api):
    sb = make_sandbox(**LONG_TOKENS)
    api = make_api(sb)
    today = api.availability("s_haircut", "l_london", days_ahead=1)["days"][0]["slots"]
    later = FROZEN + timedelta(hours=4)
    assert any(parse_ts(s["start"]) < later for s in today)
    sb.advance(4 * 3600)
    slots = api.availability("s_haircut", "l_london", days_ahead=1)["days"][0]["slots"]
    assert all(parse_ts(s["start"]) >= later for s in slots)


def test_default_start_date_follows_the_clock(make_sandbox, make_api):
    sb = make_sandbox(**LONG_TOKENS)
    api = make_api(sb)
    sb.advance(86_400)
    assert api.availability("s_eyebrow")["start_date"] == "2026-03-24"


def test_generated_at_follows_the_clock(make_sandbox, make_api):
    sb = make_sandbox(**LONG_TOKENS)
    api = make_api(sb)
    sb.advance(125)
    assert parse_ts(api.availability("s_eyebrow")["generated_at"]) == FROZEN + timedelta(
        seconds=125
    )


def test_unfrozen_clock_follows_real_time(make_sandbox):
    sb = make_sandbox(now=None)
    assert abs(sb.now() - datetime.now(UTC)) < timedelta(hours=1)


def test_unfrozen_clock_can_be_advanced(make_sandbox):
    sb = make_sandbox(now=None)
    sb.advance(7 * 86_400)
    assert sb.now() - datetime.now(UTC) > timedelta(days=6)


def test_sandbox_endpoints_need_no_token(sandbox):
    for path in ("/_sandbox/clock", "/_sandbox/outbox", "/openapi.json"):
        assert httpx.get(f"{sandbox.base_url}{path}", timeout=TIMEOUT_S).status_code == 200, path


def test_outbox_starts_empty(make_sandbox):
    response = httpx.get(f"{make_sandbox().base_url}/_sandbox/outbox", timeout=TIMEOUT_S)
    assert response.json() == {"items": []}


def test_outbox_items_have_every_field(demo):
    appointment = demo.book("s_eyebrow", demo.find_slot()["start"], email="fields@example.com")
    items = httpx.get(f"{demo.sb.base_url}/_sandbox/outbox", timeout=TIMEOUT_S).json()["items"]
    mine = [m for m in items if m["appointment_id"] == appointment["appointment_id"]]
    assert len(mine) == 1
    assert OUTBOX_FIELDS <= set(mine[0])
    assert mine[0]["to"] == "fields@example.com"


def test_outbox_sent_at_is_the_sandbox_clock(demo):
    appointment = demo.book("s_eyebrow", demo.find_slot()["start"])
    (mail,) = demo.emails(appointment["appointment_id"])
    assert parse_ts(mail["sent_at"]) == demo.sb.now()
