"""The seed's own Python examples (requests) run against the sandbox.

The code in `seed_flow` is the seed file's Python flow verbatim: token -> availability ->
hold -> confirm -> reschedule -> cancel. Only the base URL, the ids and the times differ; the
times come from the availability the flow itself fetched, written in UTC like the seed's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import NOW, UNLIMITED, as_utc_z, parse_ts

from zimun_analytics.sandbox import Sandbox


@pytest.fixture(scope="module")
def seed_sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=1, now=NOW, **UNLIMITED) as sb:
        yield sb


def free_starts(avail: dict[str, Any], count: int) -> list[str]:
    """The first `count` bookable slot starts of an availability answer, in UTC Z form."""
    starts = [
        as_utc_z(slot["start"])
        for day in avail["days"]
        for slot in day["slots"]
        if slot["available"] >= 1
    ]
    assert len(starts) >= count, avail
    return starts[:count]


@pytest.fixture(scope="module")
def seed_flow(seed_sandbox: Sandbox) -> dict[str, Any]:
    """Run the seed's Python flow once; return everything it produced."""
    base = seed_sandbox.base_url
    mp = pytest.MonkeyPatch()
    mp.setenv("ZIMUN_CLIENT_ID", seed_sandbox.client_id)
    mp.setenv("ZIMUN_CLIENT_SECRET", seed_sandbox.client_secret)
    try:
        # 1) Zugriffstoken anfordern
        token_resp = requests.post(
            f"{base}/oauth/token",
            auth=(os.getenv("ZIMUN_CLIENT_ID"), os.getenv("ZIMUN_CLIENT_SECRET")),
            data={"grant_type": "client_credentials"},
        )
        token = token_resp.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        # 2) Verfügbarkeit -> Hold -> Bestätigen
        # 1) availability (holiday map / days ahead)
        avail = requests.get(
            f"{base}/api/v1/availability?service_id=s_eyebrow&days_ahead=7",
            headers=headers,
        ).json()
        first_time, second_time = free_starts(avail, 2)
        # 2) create hold
        hold = requests.post(
            f"{base}/api/v1/appointments/hold",
            headers=headers,
            json={
                "organization_id": "o_demo",
                "service_id": "s_eyebrow",
                "appointment_time": first_time,
                "appointment_duration": 15,
            },
        ).json()
        # 3) confirm
        confirm = requests.post(
            f"{base}/api/v1/appointments/confirm",
            headers=headers,
            json={
                "hold_id": hold["hold_id"],
                "contact_name": "Dana Lee",
                "contact_email": "dana@example.com",
            },
        ).json()

        # 3) Umbuchen oder stornieren
        reschedule = requests.patch(
            f"{base}/api/v1/appointments/{confirm['appointment_id']}",
            headers=headers,
            json={"appointment_time": second_time},
        ).json()
        cancel = requests.patch(
            f"{base}/api/v1/appointments/{confirm['appointment_id']}",
            headers=headers,
            json={"status": "cancelled"},
        ).json()
    finally:
        mp.undo()
    return {
        "token_resp": token_resp,
        "avail": avail,
        "times": (first_time, second_time),
        "hold": hold,
        "confirm": confirm,
        "reschedule": reschedule,
        "cancel": cancel,
    }


def test_seed_token_request_succeeds(seed_flow):
    assert seed_flow["token_resp"].status_code == 200
    assert seed_flow["token_resp"].json()["token_type"] == "Bearer"


def test_seed_availability_has_seven_days_and_a_holiday_map(seed_flow):
    assert len(seed_flow["avail"]["days"]) == 7
    assert isinstance(seed_flow["avail"]["holidays"], dict)


def test_seed_hold_is_held_at_the_requested_time(seed_flow):
    hold = seed_flow["hold"]
    assert hold["status"] == "held"
    assert parse_ts(hold["appointment_time"]) == parse_ts(seed_flow["times"][0])


def test_seed_confirm_returns_a_confirmed_appointment(seed_flow):
    confirm = seed_flow["confirm"]
    assert confirm["status"] == "confirmed"
    assert confirm["appointment_id"].startswith("a_")
    assert confirm["hold_id"] == seed_flow["hold"]["hold_id"]


def test_seed_reschedule_moves_the_appointment(seed_flow):
    reschedule = seed_flow["reschedule"]
    assert reschedule["appointment_id"] == seed_flow["confirm"]["appointment_id"]
    assert parse_ts(reschedule["appointment_time"]) == parse_ts(seed_flow["times"][1])


def test_seed_cancel_cancels_the_appointment(seed_flow):
    assert seed_flow["cancel"]["status"] == "cancelled"


def test_seed_flow_sends_the_three_emails(seed_flow, seed_sandbox):
    appointment_id = seed_flow["confirm"]["appointment_id"]
    kinds = [m["kind"] for m in seed_sandbox.outbox() if m["appointment_id"] == appointment_id]
    assert kinds == ["confirmed", "rescheduled", "cancelled"]


def test_seed_flow_leaves_both_slots_free(seed_flow, seed_sandbox):
    first, second = seed_flow["times"]
    before = {
        parse_ts(slot["start"]): slot["available"]
        for day in seed_flow["avail"]["days"]
        for slot in day["slots"]
    }
    token = seed_flow["token_resp"].json()["access_token"]
    after_doc = requests.get(
        f"{seed_sandbox.base_url}/api/v1/availability",
        params={"service_id": "s_eyebrow", "days_ahead": 7},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    after = {
        parse_ts(slot["start"]): slot["available"]
        for day in after_doc["days"]
        for slot in day["slots"]
    }
    for moment in (parse_ts(first), parse_ts(second)):
        assert after[moment] == before[moment]
