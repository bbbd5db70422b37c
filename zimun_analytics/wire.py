"""Availability responses as they came over the wire: payloads, and reading them into Arrow.

:func:`read_wire` turns many raw response bodies into one Arrow struct array of the wire
schema, plus each payload's holiday names. The fast path hands all bodies at once to Arrow's
multithreaded JSON reader: no Python dict per slot is ever built. It is taken only when nothing
can go wrong there, each body being one UTF-8 object on one line that is tagged with its row
number, so that a row can never be attributed to the wrong request; at any doubt (a pretty
printed body, a body Arrow refuses, rows that do not line up) the exact slow path decodes each
body with :mod:`json`, converts the dicts, and names the first bad field and its request id.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .errors import ResponseFormatError
from .models import Service

__all__ = ["ENDPOINT", "WIRE_PAYLOAD", "Call", "HolidayNames", "Payload", "problem", "read_wire"]

ENDPOINT = "GET /availability"
_WIRE_SLOT = pa.struct(
    [
        ("start", pa.string()),
        ("end", pa.string()),
        ("capacity", pa.int16()),
        ("available", pa.int16()),
    ]
)
_WIRE_DAY = pa.struct(
    [("date", pa.string()), ("status", pa.string()), ("slots", pa.list_(_WIRE_SLOT))]
)
_HOLIDAY = pa.struct([("name", pa.string()), ("kind", pa.string())])
WIRE_PAYLOAD = pa.struct(
    [
        ("organization_id", pa.string()),
        ("service_id", pa.string()),
        ("location_id", pa.string()),
        ("timezone", pa.string()),
        ("generated_at", pa.string()),
        ("slot_duration_minutes", pa.int16()),
        ("days", pa.list_(_WIRE_DAY)),
        ("holidays", pa.map_(pa.string(), _HOLIDAY)),
    ]
)
# Arrow's JSON reader cannot read a map (holidays are keyed by date): the fast path reads the
# rest, with a row tag, then the holidays in a second pass as a struct of the dates it found
_ROW_FIELD = "\x1fzimun_row"  # the row tag's key: a control character, which no real key has
_FAST_FIELDS = [field for field in WIRE_PAYLOAD if field.name != "holidays"]
_ROW_KEY_JSON = json.dumps(_ROW_FIELD).encode()  # b'"\\u001fzimun_row"'
_FAST_SCHEMA = pa.schema([(_ROW_FIELD, pa.int32()), *_FAST_FIELDS])
_MIN_BLOCK_BYTES = 4 << 20  # Arrow parses blocks on its threads; an object may span only two
_MAX_BLOCK_BYTES = 2**31 - 1  # Arrow's block size is an int32
_MAX_HOLIDAY_DATES = 2_000  # distinct dates of days; a year's window over time zones is ~370
_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)
_UTF8_BOM = b"\xef\xbb\xbf"

HolidayNames = dict[tuple[int, str], "str | None"]  # (payload index, date) -> name


@dataclass(frozen=True)
class Call:
    """One availability request of a fetch plan."""

    service: Service
    location_id: str
    start_date: date | None
    days_ahead: int


@dataclass
class Payload:
    """An availability response body (raw JSON bytes) and the call that produced it."""

    call: Call
    body: bytes
    request_id: str | None

    @classmethod
    def from_data(cls, call: Call, data: Any, request_id: str | None = None) -> Payload:
        """A payload of already decoded JSON (tests, tools), encoded as the service would."""
        return cls(call, json.dumps(data).encode(), request_id)

    def decoded(self) -> Any:
        """The body as Python objects (the slow path, and rare single-field reads)."""
        try:
            return json.loads(self.body.removeprefix(_UTF8_BOM))
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise problem(self, "the body", "is not JSON") from None


def problem(payload: Payload, field: str, what: str) -> ResponseFormatError:
    """The error for a bad ``field`` of ``payload``, naming the endpoint and request id."""
    return ResponseFormatError(f"{ENDPOINT}: {field} {what} (request_id {payload.request_id})")


def read_wire(payloads: Sequence[Payload]) -> tuple[pa.StructArray, HolidayNames]:
    """All payloads as one Arrow struct array, and each payload's holiday names by date.

    The array has the fields of :data:`WIRE_PAYLOAD` (read them by name: the fast path leaves
    ``holidays`` out). Raises ResponseFormatError for the first body that is not an
    availability object.
    """
    fast = _read_fast(payloads) if payloads else None
    return fast if fast is not None else _read_slow(payloads)


# -- the fast path: Arrow's JSON reader over every body at once ------------------------------


def _read_fast(payloads: Sequence[Payload]) -> tuple[pa.StructArray, HolidayNames] | None:
    text = _ndjson(payloads)
    if text is None:
        return None
    block = max(_MIN_BLOCK_BYTES, 2 * max(len(p.body) for p in payloads) + 64)
    if block > _MAX_BLOCK_BYTES:
        return None
    table = _read_json(text, pa.schema(_FAST_SCHEMA), block)
    if table is None or not _rows_line_up(table.column(_FAST_SCHEMA[0].name), len(payloads)):
        return None
    wire = pa.StructArray.from_arrays(
        [table.column(f.name).combine_chunks() for f in _FAST_FIELDS], fields=_FAST_FIELDS
    )
    names = _fast_holidays(text, wire, block)
    return (wire, names) if names is not None else None


def _ndjson(payloads: Sequence[Payload]) -> bytes | None:
    """Every body as one NDJSON line that starts with its row tag, or None.

    None when the fast path cannot be sure of them: a body that is not one object, a line
    break inside one, not UTF-8. Built with memoryviews, so the bodies are copied once, into
    the text itself.
    """
    pieces: list[bytes | memoryview] = []
    for row, payload in enumerate(payloads):
        body = payload.body.strip(b" \t\r\n")  # the same object when there is nothing to strip
        if not (body.startswith(b"{") and body.endswith(b"}")) or b"\n" in body or b"\r" in body:
            return None  # a raw line break inside a string would be invalid JSON: be exact
        empty = len(body) < 16 and not body[1:-1].strip()
        tag = b"{%s:%d%s" % (_ROW_KEY_JSON, row, b"" if empty else b",")
        pieces += [tag, memoryview(body)[1:], b"\n"]
    text = b"".join(pieces)
    return text if _is_utf8(text) else None


def _is_utf8(text: bytes) -> bool:
    """UTF-8 checked by Arrow without copying the text (Arrow's JSON reader does not check)."""
    offsets = pa.array([0, len(text)], pa.int64())
    binary = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), 1, [None, offsets.buffers()[1], pa.py_buffer(text)]
    )
    try:
        binary.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _read_json(text: bytes, schema: pa.Schema, block: int) -> pa.Table | None:
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        return pa_json.read_json(io.BytesIO(text), pa_json.ReadOptions(block_size=block), options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _rows_line_up(rows: pa.ChunkedArray, count: int) -> bool:
    """Whether row i of the table came from body i, for every i.

    Two objects in one body, or an empty one, would shift the rows after them.
    """
    if len(rows) != count or rows.null_count:
        return False
    return bool(np.array_equal(rows.to_numpy(), np.arange(count)))


def _fast_holidays(text: bytes, wire: pa.StructArray, block: int) -> HolidayNames | None:
    """The holidays maps, read again as a struct whose fields are the dates of the days."""
    dates = pc.unique(pc.list_flatten(wire.field("days")).field("date")).drop_null()
    fields = [(day, _HOLIDAY) for day in dates.to_pylist()]
    if not fields:
        return {}
    if len(fields) > _MAX_HOLIDAY_DATES:  # a struct this wide costs more than json does
        return None
    table = _read_json(text, pa.schema([("holidays", pa.struct(fields))]), block)
    if table is None:
        return None
    maps = table.column("holidays").combine_chunks()
    names: HolidayNames = {}
    for index, (day, _) in enumerate(fields):
        column = pc.struct_field(maps, [index, 0])
        rows = pc.indices_nonzero(pc.is_valid(column))  # holidays are few: skip the nulls
        for row, name in zip(rows.to_pylist(), column.take(rows).to_pylist(), strict=True):
            names[(row, day)] = name
    return names


# -- the slow path: json per body, then Arrow from dicts; names what is wrong -----------------


def _read_slow(payloads: Sequence[Payload]) -> tuple[pa.StructArray, HolidayNames]:
    datas = [payload.decoded() for payload in payloads]
    for payload, data in zip(payloads, datas, strict=True):
        if not isinstance(data, dict):  # a null row would read as a struct of empty fields
            raise problem(payload, "the body", "is not a JSON object")
    try:
        wire = pa.array(datas, type=WIRE_PAYLOAD)
    except _CONVERSION_ERRORS:
        raise _culprit(payloads, datas) from None
    return wire, _slow_holidays(wire.field("holidays"))


def _culprit(payloads: Sequence[Payload], datas: list[Any]) -> ResponseFormatError:
    """The error naming the first bad field, by type, else by converting bodies one by one.

    Types come first: a ``[]`` where an object belongs converts alone, not beside an object.
    """
    for payload, data in zip(payloads, datas, strict=True):
        wrong = _first_wrong(data)
        if wrong is not None:
            return problem(payload, *wrong)
    for payload, data in zip(payloads, datas, strict=True):
        try:
            pa.array([data], type=WIRE_PAYLOAD)
        except _CONVERSION_ERRORS:
            return problem(payload, "a field", "has an unexpected type")
    return problem(payloads[0], "a field of some response", "has an unexpected type")


def _slow_holidays(maps: pa.MapArray) -> HolidayNames:
    offsets = maps.offsets.to_numpy()
    owners = np.repeat(np.arange(len(maps)), np.diff(offsets))
    entries = maps.items.slice(offsets[0], offsets[-1] - offsets[0])
    days = maps.keys.slice(offsets[0], offsets[-1] - offsets[0])
    names = pc.struct_field(entries, "name").to_pylist()  # a null entry: a null name
    return {
        (int(owner), day): name
        for owner, day, name in zip(owners, days.to_pylist(), names, strict=True)
    }


_TOP_FIELDS = {
    "organization_id": str,
    "service_id": str,
    "location_id": str,
    "timezone": str,
    "generated_at": str,
    "slot_duration_minutes": int,
    "days": list,
    "holidays": dict,
}
_DAY_FIELDS = {"date": str, "status": str, "slots": list}
_SLOT_FIELDS = {"start": str, "end": str, "capacity": int, "available": int}
_INT16 = range(-(2**15), 2**15)


def _fields(data: dict[str, Any]) -> Iterator[tuple[str, object, type]]:
    """(path, value, expected type) of every field the wire schema reads, outside in."""
    for name, kind in _TOP_FIELDS.items():
        yield name, data.get(name), kind
    days = data.get("days")
    for i, day in enumerate(days if isinstance(days, list) else []):
        if not isinstance(day, dict):
            yield f"days[{i}]", day, dict
            continue
        for name, kind in _DAY_FIELDS.items():
            yield f"days[{i}].{name}", day.get(name), kind
        slots = day.get("slots")
        for j, slot in enumerate(slots if isinstance(slots, list) else []):
            if not isinstance(slot, dict):
                yield f"days[{i}].slots[{j}]", slot, dict
                continue
            for name, kind in _SLOT_FIELDS.items():
                yield f"days[{i}].slots[{j}].{name}", slot.get(name), kind
    holidays = data.get("holidays")
    for day, entry in holidays.items() if isinstance(holidays, dict) else []:
        yield f"holidays[{day!r}]", entry, dict
        for name in ("name", "kind"):
            yield f"holidays[{day!r}].{name}", (entry or {}).get(name), str


def _is_wrong(value: object, kind: type) -> bool:
    """Whether a present value cannot be read as ``kind`` (integers: a 16-bit whole number)."""
    if value is None:
        return False
    if kind is not int:
        return not isinstance(value, kind)
    if isinstance(value, float) and value.is_integer():  # 2.0 is a fine 2
        value = int(value)
    return isinstance(value, bool) or not isinstance(value, int) or value not in _INT16


def _first_wrong(data: dict[str, Any]) -> tuple[str, str] | None:
    """(field, what is wrong with it) of the first field the wire schema cannot read."""
    for path, value, kind in _fields(data):
        if _is_wrong(value, kind):
            return path, f"is {value!r:.80}, not {_KIND_NAMES[kind]}"
    return None


_KIND_NAMES = {
    str: "a string",
    int: "a whole number in -32768..32767",
    list: "a list",
    dict: "an object",
}
