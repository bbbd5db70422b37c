"""The slot picker's date x hour grid of one availability: pure data, no widgets.

Each cell is a local date and hour in the location's zone, of one kind: ``free`` (some
capacity left), ``full`` (capacity offered, none left), ``closed`` (none offered), ``past``
(the hour has begun and nothing is left in it: the service lists no slot that has started) or
``holiday``; closed days, hours gone by and holidays are never confused with fully booked hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .._models import Availability, Slot

# cividis at nine even steps (matplotlib's map, colour-blind safe): kept as data so this module
# needs no matplotlib; dark = little free capacity, bright yellow = the most in the window
CIVIDIS = (
    *("#00224e", "#1a386f", "#434e6c", "#61656f", "#7d7c78"),
    *("#9b9476", "#bcae6c", "#dec958", "#fee838"),
)
FULL_COLOR = "#c8c8c8"  # a neutral grey, outside the cividis range
CSS = """<style>.zimun-cell { padding: 0 !important; font-size: 11px !important; }
.zimun-closed { background: #ffffff !important; border: 1px dashed #bbbbbb !important; }
.zimun-past { background: #eeeeee !important; border: 1px solid #dddddd !important; }
.zimun-holiday { background: repeating-linear-gradient(45deg, #f4f4f4 0 4px, #bbbbbb 4px 6px)
  !important; color: #222222 !important; font-style: italic; }
.zimun-swatch { display: inline-block; width: 24px; height: 14px; vertical-align: middle;
  margin: 0 4px 0 12px; border: 1px solid #999999; } .zimun-error { color: #b00020; }</style>"""


@dataclass(frozen=True)
class Cell:
    """One heatmap cell: a local date and hour; ``kind`` is free, full, closed, past or holiday."""

    day: date
    hour: int
    kind: str
    free: int
    slots: tuple[Slot, ...]
    note: str = ""


def free_count(slot: Slot) -> int:
    """Free capacity of a slot; an unreported count still means bookable, so it counts one."""
    return 1 if slot.available is None else max(slot.available, 0)


def hour_grid(
    availability: Availability, zone: ZoneInfo, now: datetime | None = None
) -> dict[tuple[date, int], Cell]:
    """Cells by (local date, local hour), for every hour from the first to the last with a slot.

    ``now`` (default: the response's ``generated_at``) tells hours gone by from closed ones.
    """
    by_hour: dict[tuple[date, int], list[Slot]] = {}
    for slot in availability.slots():
        local = slot.start.astimezone(zone)
        by_hour.setdefault((local.date(), local.hour), []).append(slot)
    found = sorted({hour for _, hour in by_hour})
    hours = list(range(found[0], found[-1] + 1)) if found else []
    names = {h.date: h.name or h.kind or "holiday" for h in availability.holidays}
    now = now or availability.generated_at
    cells = {}
    for day in availability.days:
        for hour in hours:
            slots = tuple(by_hour.get((day.date, hour), ()))
            if day.status == "holiday":
                cell = Cell(day.date, hour, "holiday", 0, (), names.get(day.date, "holiday"))
            elif day.status == "open" and not slots and _has_begun(day.date, hour, zone, now):
                cell = Cell(day.date, hour, "past", 0, ())
            elif day.status != "open" or not slots:
                cell = Cell(day.date, hour, "closed", 0, (), day.status)
            else:
                free = sum(free_count(slot) for slot in slots)
                cell = Cell(day.date, hour, "free" if free else "full", free, slots)
            cells[(day.date, hour)] = cell
    return cells


def _has_begun(day: date, hour: int, zone: ZoneInfo, now: datetime | None) -> bool:
    """Whether the local hour had begun at ``now`` (aware; compared as instants, DST-safe)."""
    return now is not None and datetime(day.year, day.month, day.day, hour, tzinfo=zone) <= now


def cell_colors(free: int, most: int) -> tuple[str, str]:
    """Background and text colour of a cell with ``free`` of at most ``most`` free."""
    fraction = min(free / max(most, 1), 1.0)
    color = CIVIDIS[round(fraction * (len(CIVIDIS) - 1))]
    return color, ("#000000" if fraction >= 0.5 else "#ffffff")


def legend_html(most: int) -> str:
    """HTML of the legend, with the CSS that makes closed and holiday cells look apart."""
    swatch = '<span class="zimun-swatch {}" style="{}"></span>'.format
    scale = "".join(swatch("", f"background:{color};margin:0") for color in CIVIDIS)
    entries = {
        "free": f"free capacity 1 {scale} {most}",
        "full": f"{swatch('', f'background:{FULL_COLOR}')}0 = fully booked",
        "closed": f"{swatch('zimun-closed', '')}blank = closed",
        "past": f"{swatch('zimun-past', '')}grey = gone by",
        "holiday": f"{swatch('zimun-holiday', '')}hol = holiday",
    }
    return CSS + "".join(f'<span class="zimun-legend-{k}">{v}</span>' for k, v in entries.items())
