"""The seed's booking flow, step by step, through :class:`~zimun_analytics.ZimunClient`.

token → services → availability → hold → confirm → reschedule → cancel, one line per step. The
customer is made up; the access token is never printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .._models import Service, Slot
from ..client import ZimunClient

DEMO_CONTACT = {"contact_name": "Dana Lee", "contact_email": "dana@example.com"}
DEMO_DAYS_AHEAD = 7


@dataclass
class DemoResult:
    """What the walk produced: the ids it created and each step's one-line summary."""

    steps: list[str] = field(default_factory=list)
    hold_id: str = ""
    appointment_id: str = ""
    final_status: str = ""


def walk_seed_flow(client: ZimunClient, echo: Callable[[str], None] = print) -> DemoResult:
    """Walk the whole seed flow and report each step through ``echo``.

    Parameters
    ----------
    client
        A connected client (the sandbox's or the real service's credentials).
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

    organization = client.organization()  # the first call fetches the token
    step(
        f"1 token         client {client.async_client.client_id} signed in to "
        f"{organization.organization_id} ({organization.name})"
    )
    service = _pick_service(client, step)
    location_id = service.location_ids[0]
    availability = client.availability(service.service_id, DEMO_DAYS_AHEAD, location_id)
    free = list(availability.free_slots())
    step(
        f"3 availability  {len(availability.days)} days at {location_id} "
        f"({availability.timezone}): {len(free)} free slots, first {free[0].start.isoformat()}"
    )
    _book_and_change(client, service, location_id, free, result, step)
    return result


def _pick_service(client: ZimunClient, step: Callable[[str], None]) -> Service:
    services = list(client.services())
    active = [s for s in services if s.active]
    service = next((s for s in active if len(s.location_ids) == 1), active[0])
    step(
        f"2 services      {len(services)} services ({len(active)} active); using "
        f"{service.service_id} ({service.name}, {service.duration_minutes} min)"
    )
    return service


def _book_and_change(
    client: ZimunClient,
    service: Service,
    location_id: str,
    free: list[Slot],
    result: DemoResult,
    step: Callable[[str], None],
) -> None:
    hold = client.hold(service.service_id, free[0].start, location_id=location_id)
    result.hold_id = hold.hold_id
    step(
        f"4 hold          {hold.hold_id} on {hold.appointment_time.isoformat()}, "
        f"expires {hold.expires_at.isoformat()}"
    )
    appointment = client.confirm(hold.hold_id, **DEMO_CONTACT)
    result.appointment_id = appointment.appointment_id
    step(
        f"5 confirm       {appointment.appointment_id} {appointment.status}, "
        f"email to {DEMO_CONTACT['contact_email']}"
    )
    moved = client.reschedule(appointment.appointment_id, free[1].start)
    step(f"6 reschedule    moved to {moved.appointment_time.isoformat()}")
    cancelled = client.cancel(appointment.appointment_id)
    result.final_status = cancelled.status
    step(f"7 cancel        {cancelled.appointment_id} is {cancelled.status}")
