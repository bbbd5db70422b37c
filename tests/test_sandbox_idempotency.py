"""Idempotency-Key replay and reuse on the sandbox's POST and PATCH endpoints."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import Api, assert_error

HOLD = "/api/v1/appointments/hold"
CONFIRM = "/api/v1/appointments/confirm"


def new_key() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def slot(demo: Api) -> dict[str, Any]:
    return demo.find_slot()


@pytest.fixture
def appointment(demo: Api) -> dict[str, Any]:
    return demo.book("s_eyebrow", demo.find_slot()["start"])


# -- hold -------------------------------------------------------------------------------------


def test_hold_replay_returns_the_same_body(demo, slot):
    key = new_key()
    first = demo.hold("s_eyebrow", slot["start"], key=key)
    second = demo.hold("s_eyebrow", slot["start"], key=key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()


def test_hold_replay_is_marked_replayed(demo, slot):
    key = new_key()
    first = demo.hold("s_eyebrow", slot["start"], key=key)
    second = demo.hold("s_eyebrow", slot["start"], key=key)
    assert first.headers.get("Idempotent-Replayed", "false") != "true"
    assert second.headers["Idempotent-Replayed"] == "true"


def test_hold_replay_takes_the_slot_once(demo, slot):
    key = new_key()
    demo.hold("s_eyebrow", slot["start"], key=key)
    demo.hold("s_eyebrow", slot["start"], key=key)
    assert demo.available("s_eyebrow", slot["start"]) == slot["available"] - 1


def test_hold_with_a_reused_key_and_another_body_is_idempotency_key_reused(demo, slot):
    key = new_key()
    demo.hold("s_eyebrow", slot["start"], key=key)
    other = demo.find_slot(exclude=(slot["start"],))
    assert_error(demo.hold("s_eyebrow", other["start"], key=key), 422, "idempotency_key_reused")


def test_reused_key_does_not_take_the_other_slot(demo, slot):
    key = new_key()
    demo.hold("s_eyebrow", slot["start"], key=key)
    other = demo.find_slot(exclude=(slot["start"],))
    demo.hold("s_eyebrow", other["start"], key=key)
    assert demo.available("s_eyebrow", other["start"]) == other["available"]


def test_without_key_two_holds_are_two_holds(demo):
    slot = demo.find_slot(min_available=2)
    first = demo.hold("s_eyebrow", slot["start"])
    second = demo.hold("s_eyebrow", slot["start"])
    assert first.json()["hold_id"] != second.json()["hold_id"]
    assert demo.available("s_eyebrow", slot["start"]) == slot["available"] - 2


def test_keys_are_per_client(demo, other):
    key = new_key()
    demo.hold("s_eyebrow", demo.find_slot()["start"], key=key)
    response = other.hold("s_tlv_consult", other.find_slot("s_tlv_consult")["start"], key=key)
    assert response.status_code == 201
    assert response.headers.get("Idempotent-Replayed", "false") != "true"
    assert response.json()["organization_id"] == "o_other"


def test_key_of_255_characters_is_accepted(demo, slot):
    response = demo.hold("s_eyebrow", slot["start"], key="k" * 255)
    assert response.status_code == 201


def test_key_longer_than_255_characters_is_invalid_request(demo, slot):
    response = demo.hold("s_eyebrow", slot["start"], key="k" * 256)
    assert_error(response, 400, "invalid_request")


# -- confirm ----------------------------------------------------------------------------------


def test_confirm_replay_returns_the_same_appointment(demo, slot):
    hold = demo.held("s_eyebrow", slot["start"])
    key = new_key()
    first = demo.confirm(hold["hold_id"], key=key)
    second = demo.confirm(hold["hold_id"], key=key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"


def test_confirm_replay_sends_no_second_email(demo, slot):
    hold = demo.held("s_eyebrow", slot["start"])
    key = new_key()
    appointment = demo.confirm(hold["hold_id"], key=key).json()
    demo.confirm(hold["hold_id"], key=key)
    assert [m["kind"] for m in demo.emails(appointment["appointment_id"])] == ["confirmed"]


def test_confirm_replay_creates_no_second_appointment(demo, slot):
    hold = demo.held("s_eyebrow", slot["start"])
    key = new_key()
    demo.confirm(hold["hold_id"], key=key)
    demo.confirm(hold["hold_id"], key=key)
    confirmed = [m for m in demo.sb.outbox() if m["kind"] == "confirmed"]
    ids = [m["appointment_id"] for m in confirmed]
    assert len(ids) == len(set(ids))
    assert demo.available("s_eyebrow", slot["start"]) == slot["available"] - 1


def test_confirm_with_a_new_key_after_success_is_hold_already_confirmed(demo, slot):
    hold = demo.held("s_eyebrow", slot["start"])
    demo.confirm(hold["hold_id"], key=new_key())
    response = demo.confirm(hold["hold_id"], key=new_key())
    assert_error(response, 409, "hold_already_confirmed")


def test_confirm_with_a_reused_key_and_another_body_is_idempotency_key_reused(demo, slot):
    hold = demo.held("s_eyebrow", slot["start"])
    key = new_key()
    demo.confirm(hold["hold_id"], email="one@example.com", key=key)
    response = demo.confirm(hold["hold_id"], email="two@example.com", key=key)
    assert_error(response, 422, "idempotency_key_reused")


def test_key_used_for_a_hold_cannot_confirm(demo, slot):
    key = new_key()
    hold = demo.hold("s_eyebrow", slot["start"], key=key).json()
    response = demo.confirm(hold["hold_id"], key=key)
    assert_error(response, 422, "idempotency_key_reused")


# -- PATCH ------------------------------------------------------------------------------------


def test_cancel_replay_is_marked_replayed(demo, appointment):
    key = new_key()
    first = demo.patch(appointment["appointment_id"], {"status": "cancelled"}, key=key)
    second = demo.patch(appointment["appointment_id"], {"status": "cancelled"}, key=key)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"


def test_reschedule_replay_moves_once_and_mails_once(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    key = new_key()
    body = {"appointment_time": target["start"]}
    first = demo.patch(appointment["appointment_id"], body, key=key)
    second = demo.patch(appointment["appointment_id"], body, key=key)
    assert second.json() == first.json()
    assert [m["kind"] for m in demo.emails(appointment["appointment_id"])] == [
        "confirmed",
        "rescheduled",
    ]


def test_patch_with_a_reused_key_and_another_body_is_idempotency_key_reused(demo, appointment):
    target = demo.find_slot(exclude=(appointment["appointment_time"],))
    key = new_key()
    demo.patch(appointment["appointment_id"], {"appointment_time": target["start"]}, key=key)
    response = demo.patch(appointment["appointment_id"], {"status": "cancelled"}, key=key)
    assert_error(response, 422, "idempotency_key_reused")
    got = demo.http.get(f"/api/v1/appointments/{appointment['appointment_id']}").json()
    assert got["status"] == "confirmed"
