"""The slot picker, headless, against the sandbox over loopback: methods first, then clicks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest

from zimun_analytics import (
    HoldExpiredError,
    InputError,
    Slot,
    SlotUnavailableError,
    ZimunClient,
)
from zimun_analytics.client._transport import AiohttpTransport
from zimun_analytics.sandbox import Sandbox
from zimun_analytics.widgets import SlotPicker
from zimun_analytics.widgets import _parts as pickerparts

CONTACT = {"contact_name": "Dana Lee", "contact_email": "dana@example.com"}
GOOD_FRIDAY = date(2026, 4, 3)
SUNDAY = date(2026, 3, 29)


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Iterator[ZimunClient]:
    with ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url) as zimun:
        yield zimun


@pytest.fixture(scope="module")
def rival(sandbox: Sandbox) -> Iterator[ZimunClient]:
    """Another booker on the same sandbox, to take slots from under the picker."""
    with ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url) as zimun:
        yield zimun


@pytest.fixture
def make_picker(sandbox: Sandbox, client: ZimunClient) -> Iterator[Callable[..., SlotPicker]]:
    made: list[SlotPicker] = []

    def make(service_id: str = "s_eyebrow", **options) -> SlotPicker:
        options = {"now": sandbox.now, "live_countdown": False, **options}
        picker = SlotPicker(options.pop("client", client), service_id, **options)
        made.append(picker)
        return picker

    yield make
    for picker in made:
        picker.close()


@dataclass
class CellView:
    """One heatmap cell as the browser draws it from ``HeatmapGrid.grid`` and ``marks``."""

    picker: SlotPicker
    key: str

    @property
    def _data(self) -> dict:
        return self.picker.heatmap.grid["cells"][self.key]

    @property
    def mark(self) -> str | None:
        return self.picker.heatmap.marks.get(self.key)

    @property
    def description(self) -> str:
        return self._data["held_text" if self.mark == "held" else "text"]

    @property
    def tooltip(self) -> str:
        return self._data["tip"]

    @property
    def disabled(self) -> bool:
        return self._data["kind"] != "free"

    @property
    def color(self) -> str:
        return self._data["color"]

    @property
    def _dom_classes(self) -> set[str]:
        day, _, hour = self.key.partition("|")
        names = {"cell", self._data["kind"], f"d-{day}", f"h-{int(hour):02d}"}
        return {f"zimun-{name}" for name in names | ({self.mark} if self.mark else set())}

    def click(self) -> None:
        """What the browser does on a click: nothing on a disabled cell, else a new value."""
        if not self.disabled:
            send_click(self.picker, self.key)


def send_click(picker: SlotPicker, key: str) -> None:
    clicks = picker.heatmap.clicked.get("clicks", 0) + 1
    picker.heatmap.clicked = {"key": key, "clicks": clicks}


def cells(picker: SlotPicker, kind: str = "cell", day: date | None = None) -> list[CellView]:
    """Heatmap cells carrying the CSS class ``zimun-<kind>`` (and of one date, if given)."""
    wanted = {f"zimun-{kind}"} | ({f"zimun-d-{day.isoformat()}"} if day else set())
    views = [CellView(picker, key) for key in picker.heatmap.grid.get("cells", {})]
    return [view for view in views if wanted <= view._dom_classes]


def cell_at(picker: SlotPicker, slot: Slot):
    """The heatmap button of the local hour ``slot`` starts in."""
    local = slot.start.astimezone(picker._zone)
    (cell,) = [
        c for c in cells(picker, day=local.date()) if f"zimun-h-{local.hour:02d}" in c._dom_classes
    ]
    return cell


def free_slot(picker: SlotPicker, capacity: int | None = 1) -> Slot:
    """The first free slot of the heatmap (of this capacity)."""
    for slot in picker.availability.free_slots():
        if capacity is None or slot.capacity == capacity:
            return slot
    raise AssertionError("no free slot left in the window")


def output_text(picker: SlotPicker) -> str:
    return "".join(item.get("text", "") for item in picker.output.outputs)


def fill_contact(picker: SlotPicker, name: str = "Dana Lee", email: str = "dana@example.com"):
    picker.name_text.value = name
    picker.email_text.value = email


# -- the flow ------------------------------------------------------------------------------------
def test_books_a_slot_through_the_methods(make_picker, client, sandbox):
    picker = make_picker()
    assert picker.refresh() is picker.availability
    slot = picker.select(free_slot(picker).start)
    assert picker.selected_slot == slot and not picker.hold_button.disabled
    hold = picker.hold()
    assert picker.current_hold == hold and hold.appointment_time == slot.start
    assert "10:00 left" in picker.countdown_text()
    appointment = picker.confirm(**CONTACT)
    assert client.appointment(appointment.appointment_id).status == "confirmed"
    assert appointment.appointment_id in picker.message and "confirmed" in picker.hold_label.value
    emails = [m for m in sandbox.outbox() if m["appointment_id"] == appointment.appointment_id]
    assert [m["kind"] for m in emails] == ["confirmed"]
    assert picker.current_hold is None and picker.confirm_button.disabled
    assert slot.start not in {s.start for s in picker.availability.free_slots()}


def test_books_a_slot_through_clicks(make_picker, client):
    picker = make_picker("s_haircut")
    picker.service_dropdown.value = "s_eyebrow"
    assert picker.availability.service_id == "s_eyebrow"
    cells(picker, "free")[0].click()
    # the list shows its first slot as chosen, and it is: Hold works at once
    first = picker.slot_list.options[0][1]
    assert picker.slot_list.value == first and picker.selected_slot.start == first
    assert not picker.hold_button.disabled
    picker.hold_button.click()
    assert picker.current_hold is not None and picker.confirm_button.disabled
    fill_contact(picker)
    assert not picker.confirm_button.disabled
    picker.confirm_button.click()
    assert picker.output.outputs == ()
    assert client.appointment(picker.appointment.appointment_id).status == "confirmed"
    # the next booking starts empty: never under the previous customer's name
    assert (picker.name_text.value, picker.email_text.value) == ("", "")
    assert picker.contact_status.value == "" and picker.confirm_button.disabled


def test_refresh_button_and_days_ahead_refetch(make_picker):
    picker = make_picker()
    picker.days_input.value = 3
    assert len(picker.availability.days) == 3 and len(cells(picker, day=SUNDAY)) == 0
    before = picker.availability
    picker.refresh_button.click()
    assert picker.availability is not before and len(picker.availability.days) == 3


# -- expiry, conflicts, release ------------------------------------------------------------------
@pytest.fixture
def fresh(make_sandbox) -> Iterator[tuple[Sandbox, ZimunClient]]:
    sb = make_sandbox()
    with ZimunClient(sb.client_id, sb.client_secret, sb.base_url) as zimun:
        yield sb, zimun


def test_expired_hold_disables_confirm_and_says_why(make_picker, fresh):
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=sb.now)
    picker.select(free_slot(picker).start)
    picker.hold()
    fill_contact(picker)
    assert not picker.confirm_button.disabled
    sb.advance(601)
    assert picker.tick() == "Hold expired after 10 minutes."
    assert picker.confirm_button.disabled and picker.release_button.disabled
    assert "expired after 10 minutes" in picker.message
    with pytest.raises(HoldExpiredError):
        picker.confirm(**CONTACT)
    assert "expired after 10 minutes" in picker.message
    said = picker.message
    picker.confirm_button.click()  # Confirm is disabled: a stale click changes nothing
    assert picker.message == said and output_text(picker) == ""


def test_live_countdown_ticks_and_stops_on_expiry(make_picker, fresh, monkeypatch):
    monkeypatch.setattr(pickerparts, "COUNTDOWN_TICK_S", 0.05)
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=sb.now, live_countdown=True)
    picker.select(free_slot(picker).start)
    picker.hold()
    assert picker.countdown_label.value.startswith("10:00 left")
    sb.advance(30)
    deadline = time.monotonic() + 5
    while not picker.countdown_label.value.startswith("9:30") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert picker.countdown_label.value.startswith("9:30 left")
    sb.advance(600)
    while "expired" not in picker.message and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "expired after 10 minutes" in picker.message and picker.confirm_button.disabled
    assert not picker._ticker.running and picker.output.outputs == ()


def test_slot_taken_meanwhile_refreshes_and_says_just_taken(make_picker, rival):
    picker = make_picker()
    slot = picker.select(free_slot(picker, capacity=1).start)
    count = int(cell_at(picker, slot).description)
    rival.hold("s_eyebrow", slot.start)
    with pytest.raises(SlotUnavailableError):
        picker.hold()
    assert "just taken" in picker.message and picker.current_hold is None
    assert slot.start not in {s.start for s in picker.availability.free_slots()}
    assert cell_at(picker, slot).description == str(count - 1)


def test_slot_taken_meanwhile_through_the_button_shows_in_the_output(make_picker, rival):
    picker = make_picker()
    slot = picker.select(free_slot(picker, capacity=1).start)
    rival.hold("s_eyebrow", slot.start)
    picker.hold_button.click()
    assert "just taken" in picker.message
    assert "SlotUnavailableError: 409 slot_unavailable" in output_text(picker)
    assert "Traceback" not in output_text(picker)


def test_release_gives_the_slot_back(make_picker, rival):
    picker = make_picker()
    slot = picker.select(free_slot(picker, capacity=1).start)
    picker.hold()
    picker.release_button.click()
    assert picker.output.outputs == () and picker.current_hold is None
    assert "free again" in picker.message and picker.release_button.disabled
    assert slot.start in {s.start for s in picker.availability.free_slots()}
    again = rival.hold("s_eyebrow", slot.start)  # bookable by anyone again
    assert rival.release(again.hold_id)


def test_holding_again_releases_the_previous_hold(make_picker, rival):
    picker = make_picker()
    first = picker.select(free_slot(picker, capacity=1).start)
    picker.hold()
    picker.select(next(s.start for s in picker.availability.free_slots() if s != first))
    picker.hold()
    assert rival.release(rival.hold("s_eyebrow", first.start).hold_id)


# -- validation ----------------------------------------------------------------------------------
def test_contact_is_validated_as_typed(make_picker):
    picker = make_picker()
    picker.select(free_slot(picker).start)
    picker.hold()
    fill_contact(picker, email="dana@")
    assert "contact email" in picker.contact_status.value and picker.confirm_button.disabled
    fill_contact(picker, name=" ")
    assert "contact name is required" in picker.contact_status.value
    assert picker.confirm_button.disabled
    fill_contact(picker)
    assert "looks good" in picker.contact_status.value and not picker.confirm_button.disabled
    with pytest.raises(InputError, match="contact email"):
        picker.confirm("Dana Lee", "not-an-email")
    picker.release()


def test_methods_refuse_out_of_order_calls_clearly(make_picker):
    picker = make_picker()
    with pytest.raises(InputError, match="choose a slot first"):
        picker.hold()
    with pytest.raises(InputError, match="hold a slot first"):
        picker.confirm(**CONTACT)
    with pytest.raises(InputError, match="no hold to release"):
        picker.release()
    with pytest.raises(InputError, match="not a free slot"):
        picker.select(picker.availability.days[0].slots[0].start.replace(year=2030))
    with pytest.raises(InputError, match="aware datetime"):
        picker.select(free_slot(picker).start.replace(tzinfo=None))
    with pytest.raises(InputError, match="s_eyebrow"):
        picker.set_service("s_nope")


# -- the heatmap ---------------------------------------------------------------------------------
def test_holiday_closed_and_full_cells_are_disabled_and_distinct(make_picker):
    picker = make_picker()
    holiday = cells(picker, "holiday", GOOD_FRIDAY)
    assert holiday and len(holiday) == len(cells(picker, day=GOOD_FRIDAY))
    assert all(c.disabled and c.description == "hol" for c in holiday)
    assert all("Good Friday" in c.tooltip for c in holiday)
    closed = cells(picker, "closed", SUNDAY)
    assert closed and all(c.disabled and c.description == "" for c in closed)
    full = cells(picker, "full")
    assert full and all(c.disabled and c.description == "0" for c in full)
    free = cells(picker, "free")
    assert free and not any(c.disabled for c in free)
    assert all(int(c.description) > 0 and "free of" in c.tooltip for c in free)
    assert {c.color for c in full}.isdisjoint({c.color for c in free})
    assert len({c.color for c in free}) > 1  # a colour scale, not one colour
    for kind in ("free", "full", "closed", "holiday"):
        assert f"zimun-legend-{kind}" in picker.legend.value


def test_hours_gone_by_today_show_as_past_not_closed(make_sandbox, make_picker):
    sb = make_sandbox(now="2026-03-23T11:30:00Z")  # Monday 12:30 in Berlin
    with ZimunClient(sb.client_id, sb.client_secret, sb.base_url) as zimun:
        picker = make_picker(client=zimun, now=sb.now)
        today = date(2026, 3, 23)
        past = cells(picker, "past", today)
        assert past and all(c.disabled and c.description == "" for c in past)
        hours = sorted(
            int(next(k for k in c._dom_classes if k.startswith("zimun-h-"))[-2:]) for c in past
        )
        assert hours == list(range(hours[0], 12))  # every hour from opening to 11:00, none later
        assert not cells(picker, "closed", today)
        assert not cells(picker, "past", date(2026, 3, 24))
        assert "zimun-legend-past" in picker.legend.value


def test_a_disabled_cell_cannot_be_selected(make_picker):
    picker = make_picker()
    with pytest.raises(InputError, match="no free slot"):
        picker.select_hour(GOOD_FRIDAY, 10)


def test_location_dropdown_only_for_services_at_several_locations(make_picker):
    picker = make_picker("s_haircut")
    assert not picker.location_dropdown.disabled
    assert len(picker.location_dropdown.options) == 4
    assert picker.availability.location_id == "l_berlin"
    picker.location_dropdown.value = "l_london"
    assert picker.availability.location_id == "l_london" and picker._zone.key == "Europe/London"
    picker.service_dropdown.value = "s_eyebrow"
    # one location: still shown (where the customer must go), but nothing to choose
    assert picker.location_dropdown.disabled
    assert picker.location_dropdown.value == "l_berlin"


# -- errors, secrets, display, import cost -------------------------------------------------------
def test_a_failing_callback_shows_its_traceback_in_the_output(make_picker, monkeypatch):
    picker = make_picker()

    def boom(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(picker, "select_hour", boom)
    cells(picker, "free")[0].click()
    assert "Traceback" in output_text(picker) and "RuntimeError: boom" in output_text(picker)
    assert "Unexpected error" in picker.message


def test_a_library_error_in_a_callback_shows_one_line(make_picker):
    picker = make_picker()
    picker.hold_button.click()  # nothing selected yet: Hold is disabled, the click ignored
    assert output_text(picker) == ""
    send_click(picker, cells(picker, "holiday", GOOD_FRIDAY)[0].key)  # a forged click
    assert output_text(picker).startswith("InputError: ")
    assert "no free slot" in picker.message and "http" not in picker.message


def test_no_secret_shows_in_any_widget(make_picker, sandbox, client, rival):
    picker = make_picker()
    slot = picker.select(free_slot(picker, capacity=1).start)
    rival.hold("s_eyebrow", slot.start)
    picker.hold_button.click()  # an API error ends up in the widget too
    picker.select(free_slot(picker).start)
    picker.hold()
    fill_contact(picker)
    picker.confirm_button.click()
    token = client.async_client.auth._token
    shown = json.dumps([w.get_state() for w in picker._all_widgets()], default=str)
    assert "SlotUnavailableError" in shown and picker.appointment.appointment_id in shown
    for secret in [*sandbox.clients.values(), token, "zt_"]:
        assert secret and secret not in shown


def test_displays_itself_as_its_widget(make_picker):
    picker = make_picker()
    bundle = picker._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == picker.widget.model_id


def test_close_stops_the_countdown_and_closes_the_widgets(make_picker):
    picker = make_picker(live_countdown=True)
    picker.select(free_slot(picker).start)
    picker.hold()
    assert picker._ticker.running
    picker.release()
    assert not picker._ticker.running
    picker.close()
    assert picker.widget.comm is None and picker.heatmap.comm is None


def test_importing_the_module_does_not_import_ipywidgets():
    code = "import sys, zimun_analytics.widgets; print('ipywidgets' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# -- the paths a front desk takes ----------------------------------------------------------------
def test_reselecting_a_cell_or_the_same_one_can_always_be_held(make_picker, fresh):
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=sb.now)
    free = cells(picker, "free")
    free[0].click()
    first = picker.selected_slot
    free[1].click()  # another cell
    assert picker.selected_slot is not None and picker.selected_slot != first
    free[0].click()  # and back: the cell's first slot is chosen again
    assert picker.selected_slot == first and not picker.hold_button.disabled
    picker.hold_button.click()
    assert picker.current_hold is not None
    assert picker.current_hold.appointment_time == first.start


def test_a_one_slot_cell_can_be_held(make_picker, fresh):
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=sb.now)
    cell = next(c for c in picker._cells.values() if c.kind == "free")
    bookable = [slot for slot in cell.slots if slot.is_bookable]
    for slot in bookable[1:]:  # leave the cell one free slot
        for _ in range(slot.available or 1):
            zimun.hold("s_eyebrow", slot.start)
    picker.refresh()
    picker.select_hour(cell.day, cell.hour)
    assert len(picker.slot_list.options) == 1 and not picker.hold_button.disabled
    picker.hold_button.click()
    assert picker.current_hold is not None


def test_after_expiry_the_widgets_advice_works(make_picker, fresh):
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=sb.now)
    slot = free_slot(picker)
    cell_at(picker, slot).click()
    picker.hold_button.click()
    sb.advance(601)
    picker.tick()
    assert "select the slot and Hold it again" in picker.message
    cell_at(picker, slot).click()  # what the message says to do
    picker.hold_button.click()
    assert picker.current_hold is not None and not picker._expired


def test_a_double_click_on_confirm_books_once_and_says_booked(make_picker, fresh):
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=sb.now)
    cells(picker, "free")[0].click()
    picker.hold_button.click()
    fill_contact(picker)
    picker.confirm_button.click()
    picker.confirm_button.click()  # the second click of a double click
    assert picker.message.startswith("Booked")
    assert output_text(picker) == ""
    assert len([m for m in sb.outbox() if m["kind"] == "confirmed"]) == 1


def test_the_countdown_runs_on_the_servers_clock_not_this_computers(make_picker, fresh):
    # the sandbox's clock is frozen in March 2026; this computer's says otherwise
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=None)
    cells(picker, "free")[0].click()
    picker.hold_button.click()
    assert picker.countdown_text().startswith(("10:00 left", "9:59 left"))


def test_the_held_slot_is_marked_and_release_redraws_nothing(make_picker, fresh):
    sb, zimun = fresh
    picker = make_picker(client=zimun, now=sb.now)
    slot = free_slot(picker, capacity=None)
    cell = cell_at(picker, slot)
    before = int(cell.description)
    cell.click()
    assert "zimun-selected" in cell._dom_classes
    picker.hold_button.click()
    assert "zimun-held" in cell._dom_classes and int(cell.description) == before - 1
    drawn = picker.heatmap.grid
    picker.release_button.click()
    assert picker.heatmap.grid is drawn  # no refetch, no redraw: as quick as Hold
    assert "zimun-held" not in cell._dom_classes and int(cell.description) == before


def test_slots_show_their_end_and_length(make_picker):
    picker = make_picker()
    cells(picker, "free")[0].click()
    label = picker.slot_list.options[0][0]
    minutes = picker.services["s_eyebrow"].duration_minutes
    assert re.fullmatch(rf"\d\d:\d\d-\d\d:\d\d, {minutes} min \(\d+ free\)", label), label


class _LoseFirstAnswer(httpx.AsyncBaseTransport):
    """The network loses the answer to the first request to ``path``, after the server did it."""

    def __init__(self, path: str = "/appointments/confirm") -> None:
        self.inner, self.path, self.lost, self.keys = AiohttpTransport(), path, 0, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith(self.path):
            self.keys.append(request.headers.get("idempotency-key"))
            if not self.lost:
                self.lost += 1
                await response.aread()
                raise httpx.ReadError(
                    "connection reset after the request was sent", request=request
                )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_confirm_again_after_a_lost_answer_returns_the_booking_not_a_second(make_picker, fresh):
    sb, _ = fresh
    lossy = ZimunClient(sb.client_id, sb.client_secret, sb.base_url, max_retries=0,
                        transport=_LoseFirstAnswer())  # fmt: skip
    try:
        picker = make_picker(client=lossy, now=sb.now)
        cells(picker, "free")[0].click()
        picker.hold_button.click()
        fill_contact(picker)
        picker.confirm_button.click()
        assert "may have gone through" in picker.message
        assert not picker.confirm_button.disabled  # pressing it again is safe
        picker.confirm_button.click()
        assert picker.message.startswith("Booked")
    finally:
        lossy.close()
    assert len([m for m in sb.outbox() if m["kind"] == "confirmed"]) == 1


def test_a_lost_confirm_then_an_edited_contact_shows_the_booking_made(make_picker, fresh):
    sb, _ = fresh
    lossy = ZimunClient(sb.client_id, sb.client_secret, sb.base_url, max_retries=0,
                        transport=_LoseFirstAnswer())  # fmt: skip
    try:
        picker = make_picker(client=lossy, now=sb.now)
        cells(picker, "free")[0].click()
        picker.hold_button.click()
        fill_contact(picker)
        picker.confirm_button.click()  # booked, but the answer is lost
        fill_contact(picker, name="Dana Lee-Smith")  # a correction, then Confirm again
        picker.confirm_button.click()
        assert picker.message.startswith("Booked") and picker.current_hold is None
        cells(picker, "free")[-1].click()
        picker.hold_button.click()  # the next customer can be served at once
        assert picker.current_hold is not None
    finally:
        lossy.close()
    assert [m["kind"] for m in sb.outbox()] == ["confirmed"]


def test_hold_again_after_a_lost_answer_picks_up_its_own_hold(make_picker, fresh):
    sb, _ = fresh
    lossy = _LoseFirstAnswer("/appointments/hold")
    client = ZimunClient(sb.client_id, sb.client_secret, sb.base_url, max_retries=0,
                         transport=lossy)  # fmt: skip
    try:
        picker = make_picker(client=client, now=sb.now)
        cells(picker, "free")[0].click()
        picker.hold_button.click()
        assert "press Hold again" in picker.message
        picker.hold_button.click()
        assert picker.current_hold is not None and picker.message.startswith("Held")
    finally:
        client.close()
    assert lossy.keys[0] == lossy.keys[1]  # resent under its key: the server's own hold back
    live = [h for h in sb.state.engine.holds.values() if h.status == "held"]
    assert [h.hold_id for h in live] == [picker.current_hold.hold_id]
