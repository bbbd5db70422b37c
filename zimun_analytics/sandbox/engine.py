"""The booking engine: availability, holds, appointments and the demand simulation.

Who is busy when is kept in a :class:`~.ledger.BusyLedger`; the records are in :mod:`.records`.
Every booking occupies one staff member for its slot plus the service's buffer, so a 60-minute
massage also takes that person's overlapping 30-minute slots of every other service. A slot's
``available`` is the number of its able staff with nothing overlapping. All state changes
happen under one lock, which is what keeps 30 racing holds on a one-person slot to one winner.
"""

from __future__ import annotations

import math
import random
import threading
from datetime import date, datetime, timedelta
from typing import Any

from .calendar import Calendar, DayPlan, GridSlot, to_utc_iso
from .clock import SandboxClock
from .demand import booking_probability, candidate_slots, pick_lead_days
from .errors import ApiError, not_found
from .ledger import Busy, BusyLedger
from .records import Appointment, Contact, Hold
from .stores import Outbox
from .world import Location, Service, World

__all__ = ["BookingEngine", "HOLD_TTL"]

HOLD_TTL = timedelta(minutes=10)
MAX_START_DAYS_AHEAD = 365
SIMULATED_BOOKINGS_PER_HOUR = 1.5  # per location
MAX_SIMULATED_BOOKINGS = 5_000  # per clock advance, so a year-long jump stays quick
_RENDER_CACHE_SIZE = 50_000  # rendered service-location-days kept
Json = dict[str, Any]


class BookingEngine:
    """Availability, holds and appointments over a world, by the sandbox clock."""

    def __init__(self, world: World, clock: SandboxClock, seed: int) -> None:
        self.world = world
        self.clock = clock
        self.calendar = Calendar(world)
        self.outbox = Outbox()
        self.lock = threading.RLock()
        self._seed = seed
        self._ids = random.Random(f"ids:{seed}")
        self.holds: dict[str, Hold] = {}
        self.appointments: dict[str, Appointment] = {}
        self.ledger = BusyLedger(self.holds)
        self._materialized: set[tuple[str, date]] = set()
        # rendered days, valid while their date's ledger version stands and no slot or hold expires
        self._rendered: dict[tuple[str, str, date, bool], tuple[int, float, Json]] = {}

    # -- lookups ---------------------------------------------------------------------------

    def service(self, organization_id: str, service_id: str) -> Service:
        """A service of this organization, else 404."""
        service = self.world.services.get(service_id)
        if service is None or service.organization_id != organization_id:
            raise not_found("service", service_id)
        return service

    def location_for(
        self, organization_id: str, service: Service, location_id: str | None, *, in_body: bool
    ) -> Location:
        """Resolve the location of a request: 400 location_required, 404, or not offered there."""
        if location_id is None:
            if len(service.location_ids) == 1:
                return self.world.locations[service.location_ids[0]]
            raise ApiError(
                400,
                "location_required",
                f"service {service.service_id} is offered at several locations; "
                f"pass location_id, one of: {', '.join(service.location_ids)}",
            )
        location = self.world.locations.get(location_id)
        if location is None or location.organization_id != organization_id:
            raise not_found("location", location_id)
        if location_id not in service.location_ids:
            message = (
                f"service {service.service_id} is not offered at {location_id}; "
                f"offered at: {', '.join(service.location_ids)}"
            )
            if in_body:
                raise ApiError(
                    422, "validation_error", message, [{"field": "location_id", "message": message}]
                )
            raise ApiError(400, "invalid_request", message)
        return location

    # -- who is busy (see .ledger) ---------------------------------------------------------

    def free_staff(
        self, slot: GridSlot, day: date, now: datetime, ignore: str | None = None
    ) -> list[str]:
        """Able staff with nothing overlapping the slot (after materializing the day)."""
        return self.ledger.free_staff(slot, day, now, ignore)

    def materialize(self, location: Location, day: date) -> None:
        """Lay down the demand model's existing bookings for one location and date, once."""
        key = (location.location_id, day)
        if key in self._materialized:
            return
        self._materialized.add(key)
        rng = random.Random(f"demand:{self._seed}:{location.location_id}:{day.isoformat()}")
        lead_days = (day - self.clock.started_at.astimezone(location.tz).date()).days
        for member in self.world.staff[location.location_id]:
            for slot in candidate_slots(self.world, self.calendar, location, member, day, rng):
                if not self.ledger.is_free(member.staff_id, day, slot, self.clock.started_at):
                    continue
                hour = int(slot.start_iso[11:13])  # the ISO string carries local wall time
                if rng.random() < booking_probability(hour, day.weekday(), lead_days):
                    self.ledger.occupy(member.staff_id, day, slot, "bk_demand")

    # -- availability ----------------------------------------------------------------------

    def availability(
        self,
        organization_id: str,
        service_id: str,
        location_id: str | None,
        days_ahead: int,
        start_date: date | None,
        omit_full: bool,
    ) -> Json:
        """The availability document of the contract for one service at one location."""
        service = self.service(organization_id, service_id)
        location = self.location_for(organization_id, service, location_id, in_body=False)
        with self.lock:
            now = self.clock.now()
            start = self._first_day(location, now, start_date)
            days = [
                self._day(service, location, start + timedelta(n), now, omit_full)
                for n in range(days_ahead)
            ]
        return self._document(organization_id, service, location, start, now, days)

    @staticmethod
    def _first_day(location: Location, now: datetime, start_date: date | None) -> date:
        """``start_date``, else the location's today; 400 when it lies too far ahead."""
        today = now.astimezone(location.tz).date()
        start = start_date or today
        if (start - today).days > MAX_START_DAYS_AHEAD:
            raise ApiError(
                400,
                "invalid_request",
                f"start_date may be at most {MAX_START_DAYS_AHEAD} days ahead",
            )
        return start

    def _document(
        self,
        organization_id: str,
        service: Service,
        location: Location,
        start: date,
        now: datetime,
        days: list[Json],
    ) -> Json:
        """Rendered days (one per day ahead) wrapped with the window's holidays and metadata."""
        last = start + timedelta(len(days) - 1)
        holidays = self.calendar.holidays(location, start, last)
        return {
            "organization_id": organization_id,
            "service_id": service.service_id,
            "location_id": location.location_id,
            "timezone": location.timezone,
            "start_date": start.isoformat(),
            "days_ahead": len(days),
            "generated_at": to_utc_iso(now),
            "slot_duration_minutes": service.duration_minutes,
            "days": days,
            "holidays": {d.isoformat(): {"name": n, "kind": k} for d, (n, k) in holidays.items()},
        }

    def _day(
        self, service: Service, location: Location, day: date, now: datetime, omit_full: bool
    ) -> Json:
        """One day of the availability document, from the render cache while still valid."""
        key = (service.service_id, location.location_id, day, omit_full)
        now_ts = now.timestamp()
        cached = self._rendered.get(key)
        if cached and cached[0] == self.ledger.version(day) and now_ts < cached[1]:
            return cached[2]
        plan = self.calendar.day_plan(service.service_id, location.location_id, day)
        slots: list[Json] = []
        valid_until = math.inf
        if plan.slots:
            self.materialize(location, day)
            busy, valid_until = self.ledger.live_busy(plan.staff_ids, day, now)
            slots = self._render_slots(plan, busy, now_ts, omit_full)
            starts = [slot.start_ts for slot in plan.slots if slot.start_ts > now_ts]
            valid_until = min([valid_until, *starts[:1]])  # a slot starting drops out of the list
        rendered = {"date": day.isoformat(), "status": plan.status, "slots": slots}
        if len(self._rendered) >= _RENDER_CACHE_SIZE:
            self._rendered.clear()  # crude but bounded; refills at the speed of one sweep
        self._rendered[key] = (self.ledger.version(day), valid_until, rendered)
        return rendered

    @staticmethod
    def _render_slots(plan: DayPlan, busy: Busy, now_ts: float, omit_full: bool) -> list[Json]:
        slots = []
        for slot in plan.slots:
            if slot.start_ts <= now_ts:
                continue
            # the hot loop of the sandbox: inlined, as a call per staff member halves the rate
            start, end, free = slot.start_ts, slot.block_end_ts, 0
            for staff_id in slot.staff_ids:
                if not any(s < end and e > start for s, e in busy[staff_id]):
                    free += 1
            if free or not omit_full:
                slots.append(
                    {
                        "start": slot.start_iso,
                        "end": slot.end_iso,
                        "capacity": len(slot.staff_ids),
                        "available": free,
                    }
                )
        return slots

    # -- taking a slot ---------------------------------------------------------------------

    def find_slot(
        self, service: Service, location: Location, moment: datetime
    ) -> tuple[GridSlot, date]:
        """The grid slot at ``moment`` and its local date; 422 off the grid, 409 not offered."""
        if not service.active:
            raise ApiError(409, "slot_unavailable", f"{service.service_id} is no longer offered")
        verdict = self.calendar.check_grid(service, location, moment)
        if verdict == "off_grid":
            message = (
                f"{moment.isoformat()} is not on the {service.step_minutes}-minute slot grid "
                f"of {service.service_id}; pick a slot start from /availability"
            )
            raise ApiError(
                422,
                "validation_error",
                message,
                [{"field": "appointment_time", "message": message}],
            )
        if verdict == "unavailable":
            raise ApiError(
                409,
                "slot_unavailable",
                "no slot is offered at that time (closed, holiday or outside hours)",
            )
        day = moment.astimezone(location.tz).date()
        plan = self.calendar.day_plan(service.service_id, location.location_id, day)
        slot = plan.by_start[int(moment.timestamp())]
        if slot.start_ts <= self.clock.now().timestamp():
            raise ApiError(409, "slot_unavailable", "that slot has already started")
        return slot, day

    def _take(
        self,
        slot: GridSlot,
        day: date,
        location: Location,
        ignore: str | None = None,
        prefer: str | None = None,
    ) -> str:
        self.materialize(location, day)
        free = self.free_staff(slot, day, self.clock.now(), ignore)
        if not free:
            raise ApiError(
                409,
                "slot_unavailable",
                "that slot is no longer free; fetch availability and pick another",
            )
        return prefer if prefer in free else free[0]

    def new_id(self, prefix: str) -> str:
        """A fresh id, reproducible from the seed."""
        return f"{prefix}{self._ids.getrandbits(48):012x}"

    def hold(
        self, organization_id: str, service: Service, location: Location, moment: datetime
    ) -> Hold:
        """Hold a slot for ten minutes, or 409 if nobody able is free."""
        with self.lock:
            slot, day = self.find_slot(service, location, moment)
            staff_id = self._take(slot, day, location)
            hold = Hold(
                self.new_id("h_"),
                organization_id,
                service,
                location,
                staff_id,
                slot,
                day,
                expires_at=self.clock.now() + HOLD_TTL,
            )
            self.holds[hold.hold_id] = hold
            self.ledger.occupy(staff_id, day, slot, hold.hold_id)
            return hold

    def get_hold(self, organization_id: str, hold_id: str) -> Hold:
        """A hold of this organization, else 404."""
        hold = self.holds.get(hold_id)
        if hold is None or hold.organization_id != organization_id:
            raise not_found("hold", hold_id)
        return hold

    def release(self, organization_id: str, hold_id: str) -> None:
        """Give a held slot back at once; releasing twice is harmless."""
        with self.lock:
            hold = self.get_hold(organization_id, hold_id)
            if hold.status == "confirmed":
                raise ApiError(
                    409,
                    "invalid_state",
                    "this hold is already an appointment; cancel the appointment",
                )
            hold.status = "released"
            self.ledger.vacate(hold.staff_id, hold.day, hold.hold_id)

    def confirm(self, organization_id: str, hold_id: str, contact: Contact) -> Appointment:
        """Turn a live hold into an appointment and email the customer."""
        with self.lock:
            hold = self.get_hold(organization_id, hold_id)
            now = self.clock.now()
            self._check_confirmable(hold, now)
            appointment = Appointment.from_hold(self.new_id("a_"), hold, contact, now)
            hold.status = "confirmed"
            self.ledger.rename(hold.staff_id, hold.day, hold_id, appointment.appointment_id)
            self.appointments[appointment.appointment_id] = appointment
            self._email("confirmed", appointment)
            return appointment

    def _check_confirmable(self, hold: Hold, now: datetime) -> None:
        """409 if already confirmed; 410 (freeing the slot) if released or expired."""
        if hold.status == "confirmed":
            raise ApiError(
                409, "hold_already_confirmed", f"hold {hold.hold_id} is already an appointment"
            )
        if hold.status == "released" or hold.expires_at <= now:
            self.ledger.vacate(hold.staff_id, hold.day, hold.hold_id)
            raise ApiError(
                410,
                "hold_expired",
                "the hold expired after 10 minutes or was released; hold the slot again",
            )

    def get_appointment(self, organization_id: str, appointment_id: str) -> Appointment:
        """An appointment of this organization, else 404."""
        appointment = self.appointments.get(appointment_id)
        if appointment is None or appointment.organization_id != organization_id:
            raise not_found("appointment", appointment_id)
        return appointment

    def cancel(self, organization_id: str, appointment_id: str) -> Appointment:
        """Cancel and free the slot at once; cancelling twice changes nothing."""
        with self.lock:
            appointment = self.get_appointment(organization_id, appointment_id)
            if appointment.status != "cancelled":
                appointment.status = "cancelled"
                appointment.updated_at = self.clock.now()
                self.ledger.vacate(appointment.staff_id, appointment.day, appointment_id)
                self._email("cancelled", appointment)
            return appointment

    def reschedule(
        self, organization_id: str, appointment_id: str, moment: datetime
    ) -> Appointment:
        """Move an appointment to another free slot of the same service and location."""
        with self.lock:
            appointment = self.get_appointment(organization_id, appointment_id)
            if appointment.status == "cancelled":
                raise ApiError(
                    409,
                    "invalid_state",
                    "a cancelled appointment cannot be rescheduled; book a new one",
                )
            slot, day = self.find_slot(appointment.service, appointment.location, moment)
            if slot == appointment.slot:
                return appointment
            staff_id = self._take(
                slot, day, appointment.location, ignore=appointment_id, prefer=appointment.staff_id
            )
            self.ledger.vacate(appointment.staff_id, appointment.day, appointment_id)
            appointment.staff_id, appointment.slot, appointment.day = staff_id, slot, day
            self.ledger.occupy(staff_id, day, slot, appointment_id)
            appointment.updated_at = self.clock.now()
            self._email("rescheduled", appointment)
            return appointment

    def _email(self, kind: str, appointment: Appointment) -> None:
        name = appointment.contact["contact_name"]
        when = (
            f"{appointment.slot.start_iso[:16].replace('T', ' ')} ({appointment.location.timezone})"
        )
        text = (
            f"Hello {name},\n\nyour {appointment.service.name} at {appointment.location.name} "
            f"on {when} is {kind}.\nAppointment: {appointment.appointment_id}\n"
        )
        self.outbox.send(
            kind,
            str(appointment.contact["contact_email"]),
            appointment.appointment_id,
            self.clock.now(),
            text,
        )

    # -- time passing ----------------------------------------------------------------------

    def simulate(self, before: datetime, after: datetime) -> int:
        """Let the demand model book free future slots over ``[before, after]``; return how many."""
        hours = (after - before).total_seconds() / 3600
        rng = random.Random(f"simulate:{self._seed}:{before.isoformat()}")
        booked = 0
        with self.lock:
            for location in self.world.locations.values():
                wanted = int(hours * SIMULATED_BOOKINGS_PER_HOUR + rng.random())
                for _ in range(min(wanted, MAX_SIMULATED_BOOKINGS)):
                    booked += self._simulate_one(location, after, rng)
        return booked

    def _simulate_one(self, location: Location, now: datetime, rng: random.Random) -> int:
        lead_days = pick_lead_days(rng)
        day = now.astimezone(location.tz).date() + timedelta(lead_days)
        member = rng.choice(self.world.staff[location.location_id])
        self.materialize(location, day)
        slots = [
            slot
            for slot in candidate_slots(self.world, self.calendar, location, member, day, rng)
            if slot.start_ts > now.timestamp()
            and self.ledger.is_free(member.staff_id, day, slot, now)
        ]
        if not slots:
            return 0
        weights = [
            booking_probability(int(s.start_iso[11:13]), day.weekday(), lead_days) for s in slots
        ]
        slot = rng.choices(slots, weights)[0]
        self.ledger.occupy(member.staff_id, day, slot, "bk_simulated")
        return 1
