"""Holds and appointments: the booking records the engine keeps, and their JSON in the contract.

The engine owns the records and changes them under its lock; the endpoints only render them
with :func:`hold_json` and :func:`appointment_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .calendar import GridSlot, to_utc_iso
from .world import Location, Service

__all__ = ["Appointment", "Contact", "Hold", "appointment_json", "hold_json"]

Contact = dict[str, str | None]  # contact_name, contact_email, contact_phone, notes


@dataclass
class Hold:
    """A ten-minute claim on one staff member's slot."""

    hold_id: str
    organization_id: str
    service: Service
    location: Location
    staff_id: str
    slot: GridSlot
    day: date
    expires_at: datetime
    status: str = "held"  # held | released | confirmed


@dataclass
class Appointment:
    """A confirmed (or later cancelled) booking made from a hold."""

    appointment_id: str
    hold_id: str
    organization_id: str
    service: Service
    location: Location
    staff_id: str
    slot: GridSlot
    day: date
    contact: Contact
    created_at: datetime
    updated_at: datetime
    status: str = "confirmed"  # confirmed | cancelled

    @classmethod
    def from_hold(
        cls, appointment_id: str, hold: Hold, contact: Contact, now: datetime
    ) -> Appointment:
        """The appointment confirming ``hold``: same service, place, person and slot."""
        return cls(
            appointment_id,
            hold.hold_id,
            hold.organization_id,
            hold.service,
            hold.location,
            hold.staff_id,
            hold.slot,
            hold.day,
            contact,
            created_at=now,
            updated_at=now,
        )


def hold_json(hold: Hold) -> dict[str, Any]:
    """A hold as the contract's JSON object."""
    return {
        "hold_id": hold.hold_id,
        "status": hold.status,
        "organization_id": hold.organization_id,
        "service_id": hold.service.service_id,
        "location_id": hold.location.location_id,
        "appointment_time": hold.slot.start_iso,
        "appointment_duration": hold.service.duration_minutes,
        "expires_at": to_utc_iso(hold.expires_at),
    }


def appointment_json(appointment: Appointment) -> dict[str, Any]:
    """An appointment as the contract's JSON object (contact fields inline)."""
    return {
        "appointment_id": appointment.appointment_id,
        "status": appointment.status,
        "hold_id": appointment.hold_id,
        "organization_id": appointment.organization_id,
        "service_id": appointment.service.service_id,
        "location_id": appointment.location.location_id,
        "appointment_time": appointment.slot.start_iso,
        "appointment_duration": appointment.service.duration_minutes,
        **appointment.contact,
        "created_at": to_utc_iso(appointment.created_at),
        "updated_at": to_utc_iso(appointment.updated_at),
    }
