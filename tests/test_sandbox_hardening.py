"""The sandbox is the embedded default, so its bugs are the product's: inputs that once broke it.

A lone surrogate in a contact, wrong secrets that spent the real client's token budget, bodies
read whole however large, a closed-day override on a public holiday.
"""

from __future__ import annotations

import json

import httpx
from conftest import UNLIMITED

from zimun_analytics import ZimunClient

TOKEN_FORM = {"grant_type": "client_credentials"}


def _token(sb, secret: str) -> httpx.Response:
    return httpx.post(f"{sb.base_url}/oauth/token", data=TOKEN_FORM, auth=("demo", secret))


def test_a_lone_surrogate_in_a_contact_is_refused_before_anything_is_booked(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        slot = next(iter(zimun.availability("s_eyebrow", days_ahead=14).free_slots()))
        hold = zimun.hold("s_eyebrow", slot.start)
        token = zimun.async_client.auth._token
    body = '{"hold_id": "%s", "contact_name": "\\ud800", "contact_email": "d@example.com"}'
    answer = httpx.post(
        f"{sb.base_url}/api/v1/appointments/confirm",
        content=(body % hold.hold_id).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["field"] == "contact_name"
    assert sb.outbox() == []  # nothing booked, and the outbox still answers


def test_wrong_secrets_do_not_spend_the_real_clients_token_budget(make_sandbox):
    sb = make_sandbox(**{**UNLIMITED, "token_rate_limit": 3})
    refused = [_token(sb, "guess").status_code for _ in range(6)]
    assert refused[:3] == [401, 401, 401] and set(refused[3:]) == {429}  # guessing stays slow
    assert _token(sb, "demo-secret").status_code == 200  # the owner is not locked out


def test_a_body_over_the_limit_is_refused_unread(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    huge = b"x" * (10 * 1024 * 1024)
    declared = httpx.post(f"{sb.base_url}/oauth/token", content=huge)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"

    def chunks():
        for _ in range(40):
            yield b"y" * 4096  # 160 KiB, sent without a Content-Length

    streamed = httpx.post(f"{sb.base_url}/oauth/token", content=chunks())
    assert streamed.status_code == 413
    assert _token(sb, "demo-secret").status_code == 200  # and it serves on


def test_a_closed_day_never_hides_a_public_holiday(make_sandbox):
    # started 9 days before Easter Monday 2026, where Berlin's closure used to land
    sb = make_sandbox(now="2026-03-28T08:00:00Z", **UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        days = zimun.availability("s_haircut", days_ahead=14, location_id="l_berlin")
    raw = json.loads(json.dumps(days.raw))
    holidays = raw["holidays"]
    assert holidays["2026-04-06"]["kind"] == "public_holiday"
    closed = [day for day, entry in holidays.items() if entry["kind"] == "closed"]
    assert closed == ["2026-04-07"]


def test_hold_and_confirm_are_paths_not_appointment_ids(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    for method in ("GET", "PATCH"):
        for name in ("hold", "confirm"):
            answer = httpx.request(method, f"{sb.base_url}/api/v1/appointments/{name}", json={})
            assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
            assert answer.json()["error"]["code"] == "method_not_allowed"


def test_a_405_on_an_appointment_allows_both_its_methods(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    answer = httpx.delete(f"{sb.base_url}/api/v1/appointments/a_x")
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} >= {"GET", "PATCH"}
