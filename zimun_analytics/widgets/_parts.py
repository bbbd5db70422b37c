"""Parts of the slot picker's view: the heatmap of buttons, contact checks and messages.

No state of its own: :class:`~zimun_analytics.widgets.SlotPicker` owns the widgets and calls
these to build them. ``ipywidgets`` arrives as the argument ``w`` (imported by the caller inside
a method), so importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from .._config import HOLD_TTL
from .._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    HoldAlreadyConfirmedError,
    HoldExpiredError,
    InputError,
    InvalidStateError,
    SlotUnavailableError,
    ZimunError,
)
from .._models import check_email
from ._slotgrid import FULL_COLOR, Cell, cell_colors

Json = dict[str, Any]


COUNTDOWN_TICK_S = 1.0  # how often the live countdown redraws
HOLD_MINUTES = int(HOLD_TTL.total_seconds() // 60)
JUST_TAKEN = "That slot was just taken by someone else: the heatmap is refreshed, pick another."
EXPIRED = (
    f"The hold expired after {HOLD_MINUTES} minutes, so Confirm is disabled: "
    "select the slot and Hold it again."
)
_TEXT = {"free": "{free}", "full": "0", "holiday": "hol"}  # closed and past cells stay blank


def contact_problems(name: str, email: str) -> list[str]:
    """What is wrong with a contact, one message naming each bad field; empty when fine."""
    problems = [] if name.strip() else ["contact name is required"]
    if not email.strip():
        problems.append("contact email is required")
    else:
        try:
            check_email(email.strip())
        except InputError:
            problems.append("contact email is not an email address such as dana@example.com")
    return problems


def explain(error: ZimunError) -> str:
    """The status line for an error, for the front desk: what happened and what to do next.

    Short and plain: no URL, request id or status code (the picker's Details show those).
    """
    if isinstance(error, SlotUnavailableError):
        return JUST_TAKEN
    if isinstance(error, HoldExpiredError):
        return EXPIRED
    if isinstance(error, HoldAlreadyConfirmedError | InvalidStateError):
        return (
            "This hold is already an appointment: an earlier Confirm went through. "
            "Look it up before booking again."
        )
    if isinstance(error, APIError) and error.may_have_taken_effect:
        if error.url.endswith("/appointments/hold"):
            return "The booking service did not answer: press Hold again to pick the hold up."
        return (
            "The booking service did not answer: the booking may have gone through. "
            "Press Confirm again to find out (it never books twice)."
        )
    if isinstance(error, APIConnectionError):
        return "The booking service cannot be reached right now: try again in a minute."
    if isinstance(error, APIStatusError):
        return f"The booking service refused: {error.message.rstrip('.')}."
    return str(error)


def cell_key(day: date, hour: int) -> str:
    """A cell's key in the picker's heatmap (``HeatmapGrid``): ``"<date>|<hour>"``."""
    return f"{day.isoformat()}|{hour}"


def heatmap_grid(cells: dict[tuple[date, int], Cell], days: list[date], zone: ZoneInfo) -> Json:
    """The ``grid`` of :class:`~zimun_analytics.widgets._heatmap_widget.HeatmapGrid` (see there).

    Its hours, a row per day, and each cell's kind, count, tooltip and colours.
    """
    hours = sorted({hour for _, hour in cells})
    if not hours:
        return {"hours": [], "rows": [], "cells": {}, "empty": "No slots in this window."}
    most = max(cell.free for cell in cells.values())
    return {
        "hours": hours,
        "rows": [{"day": day.isoformat(), "label": day.strftime("%a %d %b")} for day in days],
        "cells": {
            cell_key(day, hour): _cell_view(cells[(day, hour)], most, zone)
            for day in days
            for hour in hours
        },
    }


def _cell_view(cell: Cell, most: int, zone: ZoneInfo) -> Json:
    """One hour's count, tooltip and colours; clickable (by its kind) only when free."""
    when = f"{cell.day:%a %d %b %Y} {cell.hour:02d}:00-{cell.hour + 1:02d}:00"
    tips = {
        "free": f"{cell.free} free of {sum(s.capacity or 0 for s in cell.slots)}",
        "full": "fully booked",
        "holiday": f"holiday: {cell.note}",
        "closed": "closed" if cell.note == "closed" else "no slots offered",
        "past": "this hour has begun: nothing left to book in it",
    }
    color, ink = "", ""
    if cell.kind in ("free", "full"):
        color, ink = cell_colors(cell.free, most) if cell.free else (FULL_COLOR, "#000000")
    text = _TEXT.get(cell.kind, "")
    return {
        "kind": cell.kind,
        "text": text.format(free=cell.free),
        # held: one place less, the one this picker holds
        "held_text": text.format(free=max(cell.free - 1, 0)),
        "tip": f"{when} ({zone.key}): {tips[cell.kind]}",
        "color": color,
        "ink": ink,
    }


class Ticker:
    """Call ``tick`` every :data:`COUNTDOWN_TICK_S` seconds while ``live()`` holds.

    In a kernel an event loop runs, so ticks are a task on it (the widgets' own thread); in a
    plain script, a chain of daemon timer threads. ``stop()`` ends either, and a timer already
    running when it is called schedules no other.
    """

    def __init__(self, tick: Callable[[], object], live: Callable[[], bool]) -> None:
        self._tick, self._live = tick, live
        self._pending: asyncio.Task[None] | threading.Timer | None = None
        self._generation, self._lock = 0, threading.Lock()

    @property
    def running(self) -> bool:
        """Whether ticks are scheduled (between ``start`` and ``stop``)."""
        return self._pending is not None

    def start(self) -> None:
        """Begin ticking (after one interval)."""
        try:
            self._pending = asyncio.get_running_loop().create_task(self._run_async())
        except RuntimeError:  # no running loop: a plain script
            self._schedule(self._generation)

    def stop(self) -> None:
        """Tick no more."""
        with self._lock:
            self._generation += 1
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None

    async def _run_async(self) -> None:
        while self._live():
            await asyncio.sleep(COUNTDOWN_TICK_S)
            self._tick()

    def _schedule(self, generation: int) -> None:
        def run() -> None:
            self._tick()
            with self._lock:  # stopped meanwhile (confirm, release, close): tick no more
                if generation == self._generation and self._live():
                    self._schedule(generation)

        timer = threading.Timer(COUNTDOWN_TICK_S, run)
        timer.daemon = True
        self._pending = timer
        timer.start()
