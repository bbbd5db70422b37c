"""A slot picker for notebooks: a thin ipywidgets view over plain, testable booking methods.

Every action is a method that works without a UI (``refresh``, ``select``, ``hold``,
``confirm``, ``release``); buttons only call them, and whatever a callback raises is shown in
the widget's ``Output``, never lost. ``ipywidgets`` is imported inside methods only, so
``import zimun_analytics.widgets`` stays cheap.

>>> SlotPicker(client, service_id="s_eyebrow")  # a cell ending in it displays it  # doctest: +SKIP
"""

from __future__ import annotations

import html
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .._config import DEFAULT_WINDOW_DAYS, HOLD_TTL, MAX_DAYS_AHEAD
from .._errors import (
    HoldAlreadyConfirmedError,
    HoldExpiredError,
    InputError,
    InvalidStateError,
    SlotUnavailableError,
    ZimunError,
)
from .._models import Appointment, Availability, Hold, Slot
from ..client import ZimunClient, new_idempotency_key
from ._parts import (
    EXPIRED,
    HOLD_MINUTES,
    JUST_TAKEN,
    Ticker,
    cell_key,
    contact_problems,
    explain,
    heatmap_grid,
)
from ._slotgrid import Cell, free_count, hour_grid, legend_html

Contact = tuple[str, str, str | None, str | None]  # name, email, phone, notes, as sent


def _require_widget_libraries() -> None:
    """Import ipywidgets and anywidget, or fail naming the extra that brings them."""
    try:
        import anywidget  # noqa: F401
        import ipywidgets  # noqa: F401
    except ModuleNotFoundError as exc:
        exc.add_note("the slot picker needs its extra: pip install 'zimun-analytics[widgets]'")
        raise


class SlotPicker:
    """Pick a slot on a heatmap of free capacity, hold it, and book it.

    Parameters
    ----------
    client : ZimunClient
        The client to book through; the picker never closes it.
    service_id : str or None
        The service to show; default the first active one of the catalogue.
    location_id : str or None
        The location, for services offered at several; default the service's first.
    days_ahead : int
        Days of availability to show (1-60).
    now : callable or None
        The server's clock for the hold countdown, returning an aware datetime. By default the
        countdown runs on the server's clock without reading this computer's: a hold's
        ``expires_at`` is its creation plus 10 minutes, so the time left is 10 minutes less
        the time since its answer arrived. Tests of the sandbox pass ``sandbox.now``.
    live_countdown : bool
        Redraw the countdown every second while a hold is live (off in headless tests, which
        call `tick` instead).

    Attributes
    ----------
    availability : Availability
        What the heatmap shows.
    selected_slot : Slot or None
        The slot chosen for Hold.
    current_hold : Hold or None
        The live (or just expired) hold; None after confirm or release.
    appointment : Appointment or None
        The last appointment booked.
    message : str
        The last status text shown.
    """

    def __init__(
        self,
        client: ZimunClient,
        service_id: str | None = None,
        location_id: str | None = None,
        days_ahead: int = DEFAULT_WINDOW_DAYS,
        *,
        now: Callable[[], datetime] | None = None,
        live_countdown: bool = True,
    ) -> None:
        _require_widget_libraries()  # before any request: a missing extra says so at once
        self.client = client
        self.days_ahead = days_ahead
        self.live_countdown = live_countdown
        self._clock = now
        self._held_at = time.monotonic()  # when the current hold's answer arrived
        self._busy = False  # a button's call is under way: other clicks are ignored
        # Idempotency-Keys, so that a call whose answer was lost is resent, never done twice:
        # of each Confirm sent for the current hold (by its contact), and of a Hold per slot
        self._confirm_keys: dict[Contact, str] = {}
        self._hold_keys: dict[datetime, str] = {}
        self.selected_slot: Slot | None = None
        self.current_hold: Hold | None = None
        self.appointment: Appointment | None = None
        self.message = ""
        self._expired = False
        self._quiet = False
        self._ticker = Ticker(lambda: self._guarded(self.tick), self._hold_live)
        self._cells: dict[tuple[date, int], Cell] = {}
        self._zone = ZoneInfo("UTC")
        self.services = {s.service_id: s for s in client.services() if s.active}
        self.location_names = {loc.location_id: loc.name for loc in client.locations()}
        self._build()
        self.set_service(service_id or next(iter(self.services), ""), location_id)

    # -- the view ------------------------------------------------------------------------------
    def _build(self) -> None:
        import ipywidgets as w

        services = [(f"{s.name} ({sid})", sid) for sid, s in self.services.items()]
        self.service_dropdown = w.Dropdown(options=services, value=None, description="Service")
        self.location_dropdown = w.Dropdown(options=[], description="Location")
        days = min(max(self.days_ahead, 1), MAX_DAYS_AHEAD)  # out of range: the client says so
        self.days_input = w.BoundedIntText(days, min=1, max=MAX_DAYS_AHEAD, description="Days")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.legend = w.HTML(legend_html(1))
        from ._heatmap_widget import HeatmapGrid  # with anywidget: only when a picker is made

        self.heatmap = HeatmapGrid()
        self.slot_list = w.Select(options=[], rows=5, description="Slots")
        self.hold_button = w.Button(description="Hold", button_style="primary", disabled=True)
        self.release_button = w.Button(description="Release", disabled=True)
        self.hold_label = w.HTML()
        self.countdown_label = w.Label()
        self._build_contact(w)
        self.status = w.HTML()
        self.output = w.Output()  # the full errors, for whoever wants them: folded away
        self.details = w.Accordion(children=[self.output], titles=("Details",), selected_index=None)
        self.widget = w.VBox(self._layout(w))
        self._name_widgets()
        self._connect()

    def _build_contact(self, w: Any) -> None:
        self.name_text = w.Text(description="Name", placeholder="customer's name (required)")
        self.email_text = w.Text(description="Email", placeholder="their email (required)")
        self.phone_text = w.Text(description="Phone", placeholder="optional")
        self.notes_text = w.Textarea(description="Notes", placeholder="optional")
        self.contact_status = w.HTML()
        self.confirm_button = w.Button(description="Confirm", button_style="success")
        self.confirm_button.disabled = True

    def _layout(self, w: Any) -> list[Any]:
        controls = [self.service_dropdown, self.location_dropdown]
        controls += [self.days_input, self.refresh_button]
        contact = [self.name_text, self.email_text, self.phone_text, self.notes_text]
        # what happened sits right under the heatmap, where the person just clicked
        return [
            w.HBox(controls, layout=w.Layout(flex_flow="row wrap")),
            self.legend,
            self.heatmap,
            self.status,
            w.HBox([self.slot_list, w.VBox([self.hold_button, self.release_button])]),
            self.hold_label,
            self.countdown_label,
            w.VBox([*contact, self.contact_status, self.confirm_button]),
            self.details,
        ]

    def _name_widgets(self) -> None:
        """CSS classes a browser test can find the parts by (see the module's report)."""
        names = {
            "slot-picker": self.widget, "service": self.service_dropdown,
            "location": self.location_dropdown, "days": self.days_input,
            "refresh": self.refresh_button, "legend": self.legend, "heatmap": self.heatmap,
            "slots": self.slot_list, "hold": self.hold_button, "release": self.release_button,
            "hold-info": self.hold_label, "countdown": self.countdown_label,
            "contact-name": self.name_text, "contact-email": self.email_text,
            "contact-phone": self.phone_text, "contact-notes": self.notes_text,
            "contact-status": self.contact_status, "confirm": self.confirm_button,
            "status": self.status, "output": self.output,
        }  # fmt: skip
        for name, widget in names.items():
            widget.add_class(f"zimun-{name}")

    def _connect(self) -> None:
        self.service_dropdown.observe(self._on(lambda c: self.set_service(c.new)), names="value")
        self.location_dropdown.observe(
            self._on(lambda c: self.set_service(self.service_id, c.new)), names="value"
        )
        self.days_input.observe(self._on(lambda c: self.refresh(c.new)), names="value")
        self.heatmap.observe(self._on(self._cell_clicked), names="clicked")
        self.slot_list.observe(self._on(lambda c: self.select(c.new)), names="value")
        self.refresh_button.on_click(self._click(self.refresh_button, self.refresh))
        self.hold_button.on_click(self._click(self.hold_button, self.hold))
        self.release_button.on_click(self._click(self.release_button, self.release))
        self.confirm_button.on_click(self._click(self.confirm_button, self._confirm_typed))
        for text in (self.name_text, self.email_text):
            text.observe(self._on(lambda _: self._check_contact()), names="value")

    def _on(self, action: Callable[[Any], object]) -> Callable[[Any], None]:
        """A callback that runs ``action`` unless the picker itself is updating the widgets."""

        def callback(event: Any) -> None:
            change_to_none = getattr(event, "new", 0) is None
            if not self._quiet and not change_to_none:
                self._guarded(action, event)

        return callback

    def _click(self, button: Any, action: Callable[[], object]) -> Callable[[Any], None]:
        """A button's callback: ignored while disabled or while another call is under way.

        A double click arrives as two events, the second after the first's call has
        finished (and disabled the button): it is dropped, not run against a state that moved on.
        """

        def callback(_: Any) -> None:
            if self._quiet or self._busy or button.disabled:
                return
            self._busy = True
            for other in (self.hold_button, self.release_button, self.confirm_button):
                other.disabled = True  # while the call runs; _update_buttons decides after
            try:
                self._guarded(action)
            finally:
                self._busy = False
                self._update_buttons()

        return callback

    def _guarded(self, action: Callable[..., object], *args: Any) -> object:
        """Run a callback; show whatever it raises in the widget rather than lose it."""
        try:
            return action(*args)
        except ZimunError as error:  # expected: one line and what to do, no traceback
            self._say(explain(error), error=True)
            self.output.append_stderr(f"{type(error).__name__}: {error}\n")
        except Exception:  # a bug: a widget callback has no caller to raise to, so show it all
            self._say("Unexpected error: the traceback is below.", error=True)
            self.output.append_stderr(traceback.format_exc())
        return None

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        quiet, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = quiet

    def _say(self, text: str, error: bool = False) -> None:
        self.message = text
        kind = "error" if error else "info"
        self.status.value = f'<span class="zimun-{kind}">{html.escape(text)}</span>'

    def _local(self, moment: datetime, fmt: str = "%a %d %b %H:%M") -> str:
        return moment.astimezone(self._zone).strftime(fmt)

    def _draw_heatmap(self) -> None:
        days = [day.date for day in self.availability.days]
        self.heatmap.grid = heatmap_grid(self._cells, days, self._zone)
        self.heatmap.marks = {}
        self.legend.value = legend_html(max((c.free for c in self._cells.values()), default=0))

    def _cell_of(self, moment: datetime) -> tuple[date, int]:
        local = moment.astimezone(self._zone)
        return local.date(), local.hour

    def _mark_cells(self) -> None:
        """Outline the chosen cell, and the held one (its count less the place held)."""
        marks: dict[tuple[date, int], str] = {}
        if self.selected_slot is not None:
            marks[self._cell_of(self.selected_slot.start)] = "selected"
        if self.current_hold is not None and self._hold_live():
            marks[self._cell_of(self.current_hold.appointment_time)] = "held"
        self.heatmap.marks = {cell_key(*key): mark for key, mark in marks.items()}

    def _cell_clicked(self, change: Any) -> None:
        """The browser's click on a free cell (``HeatmapGrid.clicked``): list its slots."""
        day, _, hour = str(change.new.get("key", "")).partition("|")
        self.select_hour(date.fromisoformat(day), int(hour))

    def _update_buttons(self) -> None:
        live = self._hold_live()
        self.hold_button.disabled = self.selected_slot is None
        self.release_button.disabled = not live
        problems = contact_problems(self.name_text.value, self.email_text.value)
        self.confirm_button.disabled = not live or bool(problems)

    def _check_contact(self) -> list[str]:
        problems = contact_problems(self.name_text.value, self.email_text.value)
        text = "; ".join(problems) if problems else "contact looks good"
        kind = "error" if problems else "info"
        self.contact_status.value = f'<span class="zimun-{kind}">{html.escape(text)}</span>'
        self._update_buttons()
        return problems

    def _confirm_typed(self) -> Appointment:
        phone, notes = self.phone_text.value.strip(), self.notes_text.value.strip()
        name, email = self.name_text.value, self.email_text.value
        return self.confirm(name, email, phone or None, notes or None)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- the work, usable without a UI ---------------------------------------------------------
    @property
    def service_id(self) -> str:
        """The service shown."""
        return self._service_id

    def set_service(self, service_id: str, location_id: str | None = None) -> Availability:
        """Show another service (and location) and refresh the heatmap.

        Parameters
        ----------
        service_id : str
            An active service of the catalogue.
        location_id : str or None
            One of the service's locations; default its first.

        Returns
        -------
        Availability
            What the heatmap now shows.
        """
        if service_id not in self.services:
            allowed = ", ".join(self.services) or "none: the catalogue has no active service"
            raise InputError(f"{service_id!r} is not an active service", allowed=allowed)
        locations = self.services[service_id].location_ids
        if location_id is not None and location_id not in locations:
            raise InputError(
                f"{service_id} is not offered at {location_id!r}", allowed=", ".join(locations)
            )
        self._service_id = service_id
        self.location_id = location_id or (locations[0] if locations else None)
        with self._quietly():
            self.service_dropdown.value = service_id
            names = [(f"{self.location_names.get(i, i)} ({i})", i) for i in locations]
            self.location_dropdown.options = names
            self.location_dropdown.value = self.location_id
        # shown always (where the customer must go), fixed when the service has one location
        self.location_dropdown.disabled = len(locations) < 2
        return self.refresh()

    def refresh(self, days_ahead: int | None = None) -> Availability:
        """Fetch availability again and redraw the heatmap; the selection is cleared.

        Parameters
        ----------
        days_ahead : int or None
            A new window length (1-60); default keep the current one.

        Returns
        -------
        Availability
            What the heatmap now shows.
        """
        if days_ahead is not None:
            self.days_ahead = days_ahead
            with self._quietly():
                self.days_input.value = days_ahead
        self._load()
        free = sum(free_count(slot) for slot in self.availability.free_slots())
        where = self.location_names.get(self.location_id or "", self.location_id or "")
        self._say(
            f"{free} free places for {self.services[self.service_id].name} at {where} over "
            f"{self.days_ahead} days; times are {self._zone.key}. Click a cell to see its slots."
        )
        return self.availability

    def _load(self) -> None:
        availability = self.client.availability(self.service_id, self.days_ahead, self.location_id)
        self.availability = availability
        self._zone = ZoneInfo(availability.timezone or "UTC")
        self._cells = hour_grid(availability, self._zone)
        self.selected_slot = None
        with self._quietly():
            self.slot_list.options = []
        self._draw_heatmap()
        self._update_buttons()

    def select_hour(self, day: date, hour: int) -> list[Slot]:
        """List the free slots of one heatmap cell (a local date and hour) for choosing."""
        cell = self._cells.get((day, hour))
        if cell is None or cell.kind != "free":
            raise InputError(f"{day} {hour:02d}:00 has no free slot; click a coloured cell")
        free = [slot for slot in cell.slots if slot.is_bookable]
        with self._quietly():
            self.slot_list.options = [(self._slot_label(s), s.start) for s in free]
            # the list shows its first option as chosen, so it is: Hold works at once, and a
            # click on that option (which sends no change) is no dead end
            self.slot_list.value = free[0].start
        self.selected_slot = free[0]
        self._mark_cells()
        self._update_buttons()
        more = f"; or choose one of the {len(free)} listed" if len(free) > 1 else ""
        self._say(f"Selected {self._local(free[0].start)}: press Hold{more}.")
        return free

    def _slot_label(self, slot: Slot) -> str:
        """``"09:00-09:45, 45 min (2 free)"``: start, end and length, then the free places."""
        minutes = self.services[self.service_id].duration_minutes
        end = f"-{self._local(slot.end, '%H:%M')}" if slot.end else ""
        return f"{self._local(slot.start, '%H:%M')}{end}, {minutes} min ({free_count(slot)} free)"

    def select(self, slot_start: datetime) -> Slot:
        """Choose the free slot starting at ``slot_start`` (an aware datetime) for Hold.

        Returns
        -------
        Slot
            The slot, as the heatmap lists it.
        """
        if not isinstance(slot_start, datetime) or slot_start.utcoffset() is None:
            raise InputError(f"slot_start must be an aware datetime, got {slot_start!r}")
        slot = next((s for s in self.availability.free_slots() if s.start == slot_start), None)
        if slot is None:
            raise InputError(
                f"{slot_start.isoformat()} is not a free slot on the heatmap; refresh and "
                "choose one listed (e.g. picker.availability.free_slots())"
            )
        local = slot.start.astimezone(self._zone)
        if slot.start not in (value for _, value in self.slot_list.options):
            self.select_hour(local.date(), local.hour)
        with self._quietly():
            self.slot_list.value = slot.start
        self.selected_slot = slot
        self._mark_cells()
        self._update_buttons()
        self._say(f"Selected {self._local(slot.start)}: press Hold to keep it {HOLD_MINUTES} min.")
        return slot

    def _hold_live(self) -> bool:
        return self.current_hold is not None and not self._expired

    def hold(self) -> Hold:
        """Hold the selected slot for 10 minutes (a live hold of this picker is released first).

        Raises
        ------
        SlotUnavailableError
            When someone took the slot meanwhile; the heatmap is refreshed first.
        """
        if self.selected_slot is None:
            raise InputError("choose a slot first: click a cell, then one of its slots")
        slot = self.selected_slot
        if self._hold_live():
            self.release()  # one hold per picker; this clears the selection, so it was kept
        # a Hold pressed again after an unanswered one resends it: the server returns the hold
        # it may have placed, rather than count it as someone else's
        key = self._hold_keys.setdefault(slot.start, new_idempotency_key())
        try:
            hold = self.client.hold(
                self.service_id,
                slot.start,
                self.services[self.service_id].duration_minutes,
                location_id=self.location_id,
                idempotency_key=key,
            )
        except SlotUnavailableError:
            self._hold_keys.pop(slot.start, None)
            self._load()
            self._say(JUST_TAKEN, error=True)
            raise
        except ZimunError as error:
            if not getattr(error, "may_have_taken_effect", False):
                self._hold_keys.pop(slot.start, None)
            raise
        self._hold_keys.pop(slot.start, None)
        self._confirm_keys = {}
        self.current_hold, self._expired, self.appointment = hold, False, None
        self._held_at = time.monotonic()
        self._mark_cells()
        self.hold_label.value = html.escape(
            f"Hold {hold.hold_id}: {self._local(hold.appointment_time)} ({self._zone.key})"
        )
        self._say(f"Held {self._local(hold.appointment_time)}: enter the contact and Confirm.")
        self._check_contact()
        self.tick()
        self._start_countdown()
        return hold

    def confirm(
        self,
        contact_name: str,
        contact_email: str,
        contact_phone: str | None = None,
        notes: str | None = None,
    ) -> Appointment:
        """Book the held slot; the customer gets a confirmation email.

        Parameters
        ----------
        contact_name, contact_email : str
            Required; checked before anything is sent.
        contact_phone, notes : str or None
            Optional.

        Returns
        -------
        Appointment
            The booking, also kept in `appointment`.

        Raises
        ------
        HoldExpiredError
            When the hold expired (after 10 minutes) or was released; Confirm is then disabled.
        """
        if self.current_hold is None:
            raise InputError("hold a slot first: there is nothing to confirm")
        problems = contact_problems(contact_name, contact_email)
        if problems:
            raise InputError("; ".join(problems))
        hold = self.current_hold
        contact = (contact_name.strip(), contact_email.strip(), contact_phone, notes)
        # a Confirm pressed again after an unanswered one resends the same call under its key:
        # the server answers with the booking if the first went through, never books twice
        key = self._confirm_keys.setdefault(contact, new_idempotency_key())
        try:
            appointment = self.client.confirm(hold, *contact, idempotency_key=key)
        except HoldExpiredError:
            self._expire()
            raise
        except HoldAlreadyConfirmedError as error:
            # an earlier Confirm (another contact, typed after its answer was lost) went
            # through: its own key fetches that appointment
            appointment = self._earlier_booking(hold, contact, error)
        self._finish_hold()
        self.appointment = appointment
        with self._quietly():  # the next booking starts from empty fields, never this customer's
            for text in (self.name_text, self.email_text, self.phone_text, self.notes_text):
                text.value = ""
        self.contact_status.value = ""
        self.hold_label.value = html.escape(
            f"Appointment {appointment.appointment_id}: status {appointment.status}, "
            f"{self._local(appointment.appointment_time)} ({self._zone.key})"
        )
        self._load()
        self._say(f"Booked: appointment {appointment.appointment_id} is {appointment.status}.")
        return appointment

    def _earlier_booking(
        self, hold: Hold, contact: Contact, refused: HoldAlreadyConfirmedError
    ) -> Appointment:
        """The appointment an earlier Confirm of this hold made; else the hold is given up."""
        for sent, key in self._confirm_keys.items():
            if sent != contact:
                try:
                    return self.client.confirm(hold, *sent, idempotency_key=key)
                except ZimunError:
                    continue
        self._finish_hold()  # an appointment already, made elsewhere: nothing left to hold
        self.hold_label.value = ""
        self._update_buttons()
        raise refused

    def release(self) -> bool:
        """Give the held slot back so others can book it.

        Returns
        -------
        bool
            False when the service could not release it (it then simply expires).
        """
        if self.current_hold is None:
            raise InputError("there is no hold to release")
        hold = self.current_hold
        try:
            released = self.client.release(hold.hold_id)
        except InvalidStateError:  # it is an appointment already: there is no hold to give
            self._finish_hold()
            self.hold_label.value = ""
            self._update_buttons()
            raise
        self._finish_hold()
        self.hold_label.value = ""
        # the heatmap drew the slot free before the hold, as it is again: no refetch, no redraw
        self._mark_cells()
        self._update_buttons()
        when = self._local(hold.appointment_time)
        kept = f"The service kept the hold on {when}; it expires by itself."
        self._say(f"Released {when}: the slot is free again." if released else kept)
        return released

    def _finish_hold(self) -> None:
        self._stop_countdown()
        self.current_hold, self._expired = None, False
        self.countdown_label.value = ""

    def _expire(self) -> None:
        self._stop_countdown()
        self._expired = True
        self.countdown_label.value = self.countdown_text()
        self._update_buttons()
        self._say(EXPIRED, error=True)

    # -- the countdown -------------------------------------------------------------------------
    def _now(self) -> datetime:
        """The server's time now: its clock if given, else the hold's creation plus elapsed."""
        if self._clock is not None:
            return self._clock()
        hold = self.current_hold
        if hold is None:
            return datetime.now(UTC)
        elapsed = timedelta(seconds=time.monotonic() - self._held_at)
        return hold.expires_at - HOLD_TTL + elapsed

    def countdown_text(self, now: datetime | None = None) -> str:
        """The time left on the hold, e.g. ``"9:58 left to confirm (until Mon 23 Mar 09:25)"``."""
        hold = self.current_hold
        if hold is None:
            return ""
        if self._expired or hold.is_expired(now or self._now()):
            return f"Hold expired after {HOLD_MINUTES} minutes."
        minutes, seconds = divmod(int(hold.remaining(now or self._now()).total_seconds()), 60)
        return f"{minutes}:{seconds:02d} left to confirm (until {self._local(hold.expires_at)})"

    def tick(self) -> str:
        """Redraw the countdown; on expiry disable Confirm and say why. Returns its text."""
        if self.current_hold is None or self._expired:
            return self.countdown_text()
        now = self._now()
        if self.current_hold.is_expired(now):
            self._expire()
        else:
            self.countdown_label.value = self.countdown_text(now)
        return str(self.countdown_label.value)

    def _start_countdown(self) -> None:
        self._ticker.stop()
        if self.live_countdown:
            self._ticker.start()

    def _stop_countdown(self) -> None:
        self._ticker.stop()

    def close(self) -> None:
        """Stop the countdown and close every widget (the client stays open)."""
        self._stop_countdown()
        for widget in self._all_widgets():
            widget.close()

    def _all_widgets(self) -> list[Any]:
        found: list[Any] = []
        todo: list[Any] = [self.widget]
        while todo:
            widget = todo.pop()
            found.append(widget)
            todo.extend(getattr(widget, "children", ()))
        return found
