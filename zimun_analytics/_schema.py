"""The tables of a snapshot, declared once: column names, Arrow types and what each means.

Frames in memory and Parquet files on disk both follow these schemas; :func:`empty_frame` and
:func:`frame_from_arrow` give frames with exactly these columns and dtypes, whatever the input.
Times: instants are UTC (``timestamp[us, UTC]``) next to the location's IANA ``timezone``;
``local_date``, ``local_hour`` and ``weekday`` are wall-clock values in that zone, so
bucketing by them is right on DST days.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa

SCHEMA_VERSION = "1"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # the `weekday` column: 0 = Mon
UTC_INSTANT = pa.timestamp("us", tz="UTC")  # every instant of every table: microseconds, UTC
# the keys of the tables, written once: a (service, location) pair, and one slot of it
PAIR_KEY = ["service_id", "location_id"]
SLOT_KEY = [*PAIR_KEY, "slot_start"]
DAY_KEY = [*PAIR_KEY, "local_date"]


@dataclass(frozen=True)
class Column:
    """One column: its name, Arrow type and meaning."""

    name: str
    type: pa.DataType
    doc: str


@dataclass(frozen=True)
class Table:
    """A named table of a snapshot and its columns, in order."""

    name: str
    columns: tuple[Column, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the table."""
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    @property
    def names(self) -> list[str]:
        """Column names, in order."""
        return [c.name for c in self.columns]


_KEYS = (
    Column("snapshot_id", pa.string(), "id of the fetch this row came from"),
    Column("fetched_at", UTC_INSTANT, "when the service observed it: earliest generated_at (UTC)"),
    Column("organization_id", pa.string(), "organization, o_..."),
    Column("location_id", pa.string(), "location, l_..."),
    Column("service_id", pa.string(), "service, s_..."),
    Column("service_name", pa.string(), "the service's display name"),
    Column("timezone", pa.string(), "the location's IANA time zone"),
)

SLOTS = Table(
    "slots",
    (
        *_KEYS,
        Column("slot_start", UTC_INSTANT, "start of the slot (UTC)"),
        Column("slot_end", UTC_INSTANT, "end of the slot (UTC); null if the API omitted it"),
        Column("local_date", pa.date32(), "the slot's date in the location's zone"),
        Column("local_hour", pa.int8(), "the slot's starting hour, 0-23, in the location's zone"),
        Column("weekday", pa.int8(), "day of the week of local_date, Monday=0 ... Sunday=6"),
        Column("duration_minutes", pa.int16(), "length of the appointment"),
        Column("capacity", pa.int16(), "staff able to serve the slot; null if not reported"),
        Column("available", pa.int16(), "of those, still free; null if not reported"),
        Column("lead_time_hours", pa.float64(), "hours from fetched_at to slot_start"),
    ),
)

DAYS = Table(
    "days",
    (
        *_KEYS,
        Column("local_date", pa.date32(), "the date in the location's zone"),
        Column("status", pa.string(), "open, closed (no hours) or holiday (public or closed day)"),
        Column("holiday_name", pa.string(), "the holiday or closed-day note; null otherwise"),
        Column(
            "n_slots", pa.int32(), "slots listed that day (full ones too, if the API lists them)"
        ),
        Column(
            "free_capacity", pa.int32(), "sum of available over the day's slots; null if unknown"
        ),
    ),
)

ERRORS = Table(
    "errors",
    (
        Column("snapshot_id", pa.string(), "id of the fetch"),
        Column("service_id", pa.string(), "the service that failed"),
        Column("location_id", pa.string(), "its location, null if not chosen"),
        Column("error_class", pa.string(), "the exception class, e.g. NotFoundError"),
        Column(
            "status_code", pa.int16(), "HTTP status, null for connection errors and refused bodies"
        ),
        Column("code", pa.string(), "the API's error code, e.g. not_found"),
        Column("message", pa.string(), "what went wrong"),
        Column(
            "request_id", pa.string(), "the failed response's X-Request-Id (of a refused body too)"
        ),
    ),
)

TABLES = {table.name: table for table in (SLOTS, DAYS, ERRORS)}

DIFF_SLOT_COLUMNS = ["local_date", "local_hour", "timezone", "service_name"]
_SLOT_COLUMNS = {c.name: c for c in SLOTS.columns}
DIFF = Table(
    "diff",
    (
        *(_SLOT_COLUMNS[name] for name in SLOT_KEY),
        Column("change", pa.string(), "vanished, appeared or capacity_changed"),
        Column("available_a", pa.int16(), "available in snapshot a; null if absent"),
        Column("available_b", pa.int16(), "available in snapshot b; null if absent"),
        Column("capacity_a", pa.int16(), "capacity in snapshot a; null if absent"),
        Column("capacity_b", pa.int16(), "capacity in snapshot b; null if absent"),
        *(_SLOT_COLUMNS[name] for name in DIFF_SLOT_COLUMNS),
    ),
)


_PANDAS_TYPES = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.float64(): pd.Float64Dtype(),
}


def _pandas_type(arrow_type: pa.DataType) -> Any:
    """Nullable pandas dtypes: missing values stay missing, never NaN-coerced floats."""
    return _PANDAS_TYPES.get(arrow_type)


def frame_from_arrow(table: pa.Table, spec: Table) -> pd.DataFrame:
    """An Arrow table of ``spec``'s schema as a DataFrame with the documented dtypes.

    Instants become ``datetime64[us, UTC]``, dates ``datetime64[ms]`` (midnight), strings
    ``string[pyarrow]`` and integers nullable ``Int8``/``Int16``/``Int32``.
    """
    table = table.select(spec.names).cast(spec.arrow_schema)
    return table.to_pandas(types_mapper=_pandas_type, date_as_object=False)


def empty_frame(spec: Table) -> pd.DataFrame:
    """A frame with no rows but every column and dtype of ``spec``."""
    return frame_from_arrow(spec.arrow_schema.empty_table(), spec)


class AvailabilitySnapshot:
    """One fetch of availability: its three tables and what produced them.

    Built from pandas frames or from Arrow tables of the schema (a fetch hands over Arrow):
    each table becomes a frame the first time it is read and stays that frame, so what the
    caller sees and edits is what a store saves. A table never read goes to the store as the
    Arrow it came in, with no pandas round trip.

    Attributes
    ----------
    slots : pandas.DataFrame
        One row per slot observation; columns of :data:`SLOTS`.
    days : pandas.DataFrame
        One row per service x location x local date; columns of :data:`DAYS`.
    errors : pandas.DataFrame
        One row per failed call (an API error, or a refused body); columns of :data:`ERRORS`.
    meta : dict
        ``snapshot_id``, ``fetched_at`` (ISO UTC), ``api_host``, ``parameters``,
        ``package_version``, ``schema_version`` and row ``counts``.
    """

    def __init__(
        self,
        slots: pd.DataFrame | pa.Table,
        days: pd.DataFrame | pa.Table,
        errors: pd.DataFrame | pa.Table,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self._tables: dict[str, pd.DataFrame | pa.Table] = {
            "slots": slots,
            "days": days,
            "errors": errors,
        }
        self.meta: dict[str, Any] = {} if meta is None else meta

    def _frame(self, name: str) -> pd.DataFrame:
        table = self._tables[name]
        if isinstance(table, pa.Table):
            table = self._tables[name] = frame_from_arrow(table, TABLES[name])
        return table

    def held(self, name: str) -> pd.DataFrame | pa.Table:
        """The table ``name`` as it is held: its frame once read, else the Arrow it came as."""
        return self._tables[name]

    @property
    def slots(self) -> pd.DataFrame:
        return self._frame("slots")

    @slots.setter
    def slots(self, frame: pd.DataFrame) -> None:
        self._tables["slots"] = frame

    @property
    def days(self) -> pd.DataFrame:
        return self._frame("days")

    @days.setter
    def days(self, frame: pd.DataFrame) -> None:
        self._tables["days"] = frame

    @property
    def errors(self) -> pd.DataFrame:
        return self._frame("errors")

    @errors.setter
    def errors(self, frame: pd.DataFrame) -> None:
        self._tables["errors"] = frame

    @property
    def snapshot_id(self) -> str:
        """The snapshot's id (sortable by fetch time)."""
        return str(self.meta["snapshot_id"])

    @property
    def complete(self) -> bool:
        """True when every service and location was fetched."""
        return len(self._tables["errors"]) == 0

    def select(
        self,
        services: str | Iterable[str] | None = None,
        locations: str | Iterable[str] | None = None,
    ) -> AvailabilitySnapshot:
        """The same snapshot narrowed to some services and/or locations (ids); meta is kept.

        ``snapshot.select(locations="l_berlin")`` gives a calendar of one location with its
        name and the snapshot's as-of time, which a filtered frame alone would not carry.
        """
        frames = {}
        for name in ("slots", "days", "errors"):
            frame = getattr(self, name)
            keep = pd.Series(True, index=frame.index)
            for column, wanted in (("service_id", services), ("location_id", locations)):
                if wanted is not None:
                    ids = [wanted] if isinstance(wanted, str) else list(wanted)
                    keep &= frame[column].isin(ids).fillna(False).astype(bool)
            frames[name] = frame[keep].reset_index(drop=True)
        return AvailabilitySnapshot(**frames, meta=dict(self.meta))

    def __repr__(self) -> str:
        return (
            f"AvailabilitySnapshot({self.snapshot_id!r}, slots={len(self._tables['slots'])}, "
            f"days={len(self._tables['days'])}, errors={len(self._tables['errors'])})"
        )

    def _repr_html_(self) -> str:
        """A short summary table for notebooks."""
        bookable = int((self.slots["available"].fillna(1) > 0).sum())
        known = self.slots.dropna(subset=["available", "capacity"])
        offered = int(known["capacity"].sum())
        booked = f"{1 - int(known['available'].sum()) / offered:.0%}" if offered else "unknown"
        dates = self.slots["local_date"]
        window = f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}" if len(dates) else ""
        rows = {
            "snapshot": self.snapshot_id,
            "fetched at (UTC)": self.meta.get("fetched_at", ""),
            "API": self.meta.get("api_host", ""),
            "services": self.slots["service_id"].nunique(),
            "locations": self.slots["location_id"].nunique(),
            "local dates": window,
            "slots": len(self.slots),
            "slots with a place free": bookable,
            "share of offered capacity booked": booked,
            "failed service/locations": len(self.errors),
        }
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in rows.items()
        )
        return f"<table><caption>AvailabilitySnapshot</caption>{cells}</table>"


Slots: TypeAlias = pd.DataFrame | AvailabilitySnapshot  # what analysis and plots take as slots


def slots_of(data: Slots) -> pd.DataFrame:
    """The slots frame of a snapshot, or the frame itself."""
    return data.slots if isinstance(data, AvailabilitySnapshot) else data
