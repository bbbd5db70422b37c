"""The paths a front desk takes through the slot picker, in a real browser page.

Shared by the Voila and the JupyterLab tests, which each open a page showing a picker of
``s_eyebrow`` (a real-clock sandbox, the picker without ``now=``, so its countdown runs on
the server's clock as the hold tells it). Meanwhile another client (a rival) takes slots, and
the sandbox clock moves, as the world does. Every step waits for what a person would see
next, and its time from click to UI updated is kept.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from zimun_analytics import ZimunClient
from zimun_analytics._config import HOLD_TTL

SERVICE = "s_eyebrow"
BERLIN = ZoneInfo("Europe/Berlin")  # s_eyebrow's location
UI_TIMEOUT_MS = 120_000


def _slots_of_cell(rival: ZimunClient, key: str) -> list[Any]:
    day, _, hour = key.partition("|")
    days = rival.availability(SERVICE, days_ahead=60)
    return [
        slot
        for slot in days.free_slots()
        if slot.start.astimezone(BERLIN).date() == date.fromisoformat(day)
        and slot.start.astimezone(BERLIN).hour == int(hour)
    ]


def _take(rival: ZimunClient, slot: Any) -> None:
    for _ in range(slot.available or 1):
        rival.hold(SERVICE, slot.start)


def _timed(page: Any, timings: dict[str, int], name: str, act: Any, then: str) -> None:
    started = time.perf_counter()
    act()
    page.wait_for_selector(then, timeout=UI_TIMEOUT_MS)
    timings[name] = round((time.perf_counter() - started) * 1000)


def _cell(page: Any, key: str) -> Any:
    return page.locator(f"button.zimun-cell[data-key='{key}']")


def _hold(page: Any, timings: dict[str, int], name: str) -> None:
    page.wait_for_selector("button.zimun-hold:not([disabled])", timeout=UI_TIMEOUT_MS)
    _timed(
        page, timings, name, lambda: page.click("button.zimun-hold"), ".zimun-hold-info :text('h_')"
    )


def _confirm_twice(page: Any, timings: dict[str, int], name: str, email: str) -> None:
    page.fill(".zimun-contact-name input", f"Customer {email}")
    page.fill(".zimun-contact-email input", email)
    page.wait_for_selector("button.zimun-confirm:not([disabled])", timeout=UI_TIMEOUT_MS)
    # people double-click: the second click must change nothing
    _timed(
        page,
        timings,
        name,
        lambda: page.dblclick("button.zimun-confirm"),
        ".zimun-status :text('Booked')",
    )
    assert page.locator(".zimun-status .zimun-error").count() == 0


def front_desk(page: Any, sandbox: Any, shots: str) -> dict[str, int]:
    """Drive the picker on ``page`` through every path; return the click → UI timings (ms)."""
    timings: dict[str, int] = {}
    rival = ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url)
    try:
        page.wait_for_selector("button.zimun-cell.zimun-free", timeout=UI_TIMEOUT_MS)
        # 60 days, the largest window: the browser draws every cell
        last_day = (sandbox.now().astimezone(BERLIN) + timedelta(days=59)).date()

        def sixty() -> None:
            page.fill(".zimun-days input", "60")
            page.press(".zimun-days input", "Enter")

        _timed(page, timings, "days_60_to_drawn", sixty, f"button.zimun-cell.zimun-d-{last_day}")
        assert page.locator("button.zimun-cell").count() >= 60 * 8
        page.screenshot(path=f"{shots}_60_days.png", full_page=True)
        # the last free cells: far enough ahead that no slot starts while we book
        keys = page.eval_on_selector_all(
            "button.zimun-cell.zimun-free", "cells => cells.map(c => c.dataset.key)"
        )
        first, other, taken, single, last = keys[-1], keys[-2], keys[-3], keys[-4], keys[-5]

        # reselect: a cell, another, the first again: its first slot is chosen, Hold works
        _timed(
            page,
            timings,
            "cell_to_selected",
            lambda: _cell(page, first).click(),
            f"button.zimun-selected[data-key='{first}']",
        )
        _cell(page, other).click()
        _cell(page, first).click()
        _hold(page, timings, "hold_to_held")
        page.wait_for_selector(f"button.zimun-held[data-key='{first}']", timeout=UI_TIMEOUT_MS)
        _timed(page, timings, "release_to_released", lambda: page.click("button.zimun-release"),
               f"button.zimun-selected[data-key='{first}']")  # fmt: skip

        # a slot taken by someone else between the listing and Hold
        _cell(page, taken).click()
        page.wait_for_selector(f"button.zimun-selected[data-key='{taken}']", timeout=UI_TIMEOUT_MS)
        for slot in _slots_of_cell(rival, taken):
            _take(rival, slot)
        page.click("button.zimun-hold")
        page.wait_for_selector(
            ".zimun-status :text('just taken by someone else')", timeout=UI_TIMEOUT_MS
        )

        # a cell with one free slot left
        for slot in _slots_of_cell(rival, single)[1:]:
            _take(rival, slot)
        page.click("button.zimun-refresh")
        # redrawn when the status says so: a cell found before that may be replaced under the click
        page.wait_for_selector(".zimun-status :text('free places')", timeout=UI_TIMEOUT_MS)
        _cell(page, single).click()
        page.wait_for_function(
            "() => document.querySelectorAll('.zimun-slots select option').length === 1",
            timeout=UI_TIMEOUT_MS,
        )
        _hold(page, timings, "one_slot_hold_to_held")

        # the hold expires on the server's clock; Confirm says so, and Hold again works
        sandbox.advance(HOLD_TTL.total_seconds() + 1)
        page.fill(".zimun-contact-name input", "Late Customer")
        page.fill(".zimun-contact-email input", "late@example.com")
        page.click("button.zimun-confirm")
        page.wait_for_selector(".zimun-status :text('expired')", timeout=UI_TIMEOUT_MS)
        page.wait_for_selector("button.zimun-confirm[disabled]", timeout=UI_TIMEOUT_MS)
        _cell(page, single).click()
        _hold(page, timings, "hold_again_to_held")
        _confirm_twice(page, timings, "confirm_to_booked", "first@example.com")

        # a second booking: the fields start empty, never the last customer's
        assert page.input_value(".zimun-contact-name input") == ""
        assert page.input_value(".zimun-contact-email input") == ""
        _cell(page, last).click()
        _hold(page, timings, "second_hold_to_held")
        _confirm_twice(page, timings, "second_confirm_to_booked", "second@example.com")
        page.screenshot(path=f"{shots}_second_booking.png", full_page=True)
    finally:
        rival.close()
    booked = [(m["kind"], m["to"]) for m in sandbox.outbox()]
    assert booked == [("confirmed", "first@example.com"), ("confirmed", "second@example.com")]
    return timings
