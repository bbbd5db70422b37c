"""The seed's booking flow, step by step, against any Zimun base URL (the sandbox by default).

token → services → availability → hold → confirm → reschedule → cancel, printing one line per
step. Customer details here are made up; the access token is never printed.

Note: this walks the API with plain httpx calls, like the seed examples do. The typed
``ZimunClient`` (issue 3) will replace these raw calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["DemoResult", "walk_seed_flow"]

DEMO_CONTACT = {"contact_name": "Dana Lee", "contact_email": "dana@example.com"}
REQUEST_TIMEOUT_S = 30.0


@dataclass
class DemoResult:
    """What the walk produced: the ids it created and each step's one-line summary."""

    steps: list[str] = field(default_factory=list)
    hold_id: str = ""
    appointment_id: str = ""
    final_status: str = ""


def _free_slots(availability: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for day in availability["days"] for s in day["slots"] if s.get("available", 1) > 0]


def walk_seed_flow(
    base_url: str, client_id: str, client_secret: str, echo: Callable[[str], None] = print
) -> DemoResult:
    """Walk the whole seed flow and report each step through ``echo``.

    Parameters
    ----------
    base_url
        Root of the API, e.g. the sandbox's ``sb.base_url``.
    client_id, client_secret
        OAuth2 client credentials.
    echo
        Receives one human-readable line per step.

    Returns
    -------
    DemoResult
        The steps' lines, the hold and appointment ids and the appointment's final status.
    """
    result = DemoResult()

    def step(line: str) -> None:
        result.steps.append(line)
        echo(line)

    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as http:
        token = (
            http.post(
                "/oauth/token",
                auth=(client_id, client_secret),
                data={"grant_type": "client_credentials"},
            )
            .raise_for_status()
            .json()
        )
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        step(
            f"1 token         {token['organization_id']}, scopes {token['scope']!r}, "
            f"expires in {token['expires_in']} s"
        )
        service, location_id = _pick_service(http, step)
        availability = (
            http.get(
                "/api/v1/availability",
                params={
                    "service_id": service["service_id"],
                    "location_id": location_id,
                    "days_ahead": 7,
                },
            )
            .raise_for_status()
            .json()
        )
        free = _free_slots(availability)
        step(
            f"3 availability  {len(availability['days'])} days at {location_id} "
            f"({availability['timezone']}): {len(free)} free slots, first {free[0]['start']}"
        )
        _book_and_change(http, service, location_id, free, result, step)
    return result


def _pick_service(http: httpx.Client, step: Callable[[str], None]) -> tuple[dict, str]:
    services = []
    params: dict[str, Any] = {"page_size": 100}
    while True:  # every page, as the seed's list endpoints require
        page = http.get("/api/v1/services", params=params).raise_for_status().json()
        services += page["items"]
        if not page.get("next_page_token"):
            break
        params["page_token"] = page["next_page_token"]
    active = [s for s in services if s.get("active", True)]
    service = next((s for s in active if len(s["location_ids"]) == 1), active[0])
    step(
        f"2 services      {len(services)} services ({len(active)} active); "
        f"using {service['service_id']} ({service['name']}, {service['duration_minutes']} min)"
    )
    return service, service["location_ids"][0]


def _book_and_change(
    http: httpx.Client,
    service: dict,
    location_id: str,
    free: list[dict],
    result: DemoResult,
    step: Callable[[str], None],
) -> None:
    organization = http.get("/api/v1/organization").raise_for_status().json()
    hold = (
        http.post(
            "/api/v1/appointments/hold",
            json={
                "organization_id": organization["organization_id"],
                "service_id": service["service_id"],
                "location_id": location_id,
                "appointment_time": free[0]["start"],
                "appointment_duration": service["duration_minutes"],
            },
        )
        .raise_for_status()
        .json()
    )
    result.hold_id = hold["hold_id"]
    step(
        f"4 hold          {hold['hold_id']} on {hold['appointment_time']}, "
        f"expires {hold['expires_at']}"
    )
    appointment = (
        http.post("/api/v1/appointments/confirm", json={"hold_id": hold["hold_id"], **DEMO_CONTACT})
        .raise_for_status()
        .json()
    )
    result.appointment_id = appointment["appointment_id"]
    step(
        f"5 confirm       {appointment['appointment_id']} {appointment['status']}, "
        f"email to {appointment['contact_email']}"
    )
    path = f"/api/v1/appointments/{appointment['appointment_id']}"
    moved = http.patch(path, json={"appointment_time": free[1]["start"]}).raise_for_status().json()
    step(f"6 reschedule    moved to {moved['appointment_time']}")
    cancelled = http.patch(path, json={"status": "cancelled"}).raise_for_status().json()
    result.final_status = cancelled["status"]
    step(f"7 cancel        {cancelled['appointment_id']} is {cancelled['status']}")
