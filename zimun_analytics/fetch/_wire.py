"""Availability responses as they came over the wire: payloads, and reading them into Arrow.

:func:`read_wire` turns many raw response bodies into one Arrow struct array of the wire
schema, plus each payload's holiday names, and the bodies it had to refuse. The fast path hands
bodies at once to Arrow's multithreaded JSON reader: no Python dict per slot is ever built. It
is taken only when nothing can go wrong there, each body being one UTF-8 object on one line that
is tagged with its row number, so that a row can never be attributed to the wrong request. A
body that is not such a line (pretty printed, truncated, empty, an array) goes to the exact
path alone; when Arrow refuses a batch (a count beyond int16, rows that do not line up), the
batch is halved until the culprits stand alone, and those go to the exact path too. The exact
path decodes a body with :mod:`json`, converts the dict, and names the first bad field and its
request id. A refused body costs only its own row: the others are read as if it were absent.
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

from .._errors import ResponseFormatError
from .._models import AVAILABILITY_BODY, HOLIDAY_ENTRY, Service, WireField

ENDPOINT = "GET /availability"
# How each kind of the declared body is read: texts stay strings, cast later with a message
# naming the value; whole numbers as int16, which holds every bound the contract has
_ARROW_OF_KIND = {
    "string": pa.string(),
    "zone": pa.string(),
    "date": pa.string(),
    "instant": pa.string(),
    "whole": pa.int16(),
}
_JSON_OF_KIND = (
    {"list": list, "map": dict} | {kind: str for kind in _ARROW_OF_KIND} | {"whole": int}
)
_INT16 = range(-(2**15), 2**15)  # what pa.int16() holds


def _struct_of(specs: Sequence[WireField]) -> pa.StructType:
    return pa.struct([(spec.name, _arrow_type(spec)) for spec in specs])


def _arrow_type(spec: WireField) -> pa.DataType:
    if spec.kind == "list":
        return pa.list_(_struct_of(spec.items))
    if spec.kind == "map":  # keyed by date
        return pa.map_(pa.string(), _struct_of(spec.items))
    return _ARROW_OF_KIND[spec.kind]


WIRE_PAYLOAD = _struct_of(AVAILABILITY_BODY)
_HOLIDAY = _struct_of(HOLIDAY_ENTRY)
# Arrow's JSON reader cannot read a map (holidays are keyed by date): the fast path reads the
# rest, with a row tag, then the holidays in a second pass as a struct of the dates it found
_ROW_FIELD = "\x1fzimun_row"  # the row tag's key: a control character, which no real key has
_FAST_FIELDS = [field for field in WIRE_PAYLOAD if field.name != "holidays"]
_ROW_KEY_JSON = json.dumps(_ROW_FIELD).encode()  # b'"\\u001fzimun_row"'
_FAST_TYPE = pa.struct(_FAST_FIELDS)  # what read_wire returns, whichever path read a body
_FAST_SCHEMA = pa.schema([(_ROW_FIELD, pa.int32()), *_FAST_FIELDS])
_MIN_BLOCK_BYTES = 4 << 20  # Arrow parses blocks on its threads; an object may span only two
_MAX_BLOCK_BYTES = 2**31 - 1  # Arrow's block size is an int32
_MAX_HOLIDAY_DATES = 2_000  # distinct dates of days; a year's window over time zones is ~370
_MIN_HALVED = 4  # a refused batch of at most this many bodies goes to the exact path whole
_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)
_UTF8_BOM = b"\xef\xbb\xbf"

HolidayNames = dict[tuple[int, str], "str | None"]  # (payload index, date) -> name
Refused = dict[int, ResponseFormatError]  # payload index -> why its body cannot be used


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
    return ResponseFormatError(what, endpoint=ENDPOINT, field=field, request_id=payload.request_id)


def read_wire(payloads: Sequence[Payload]) -> tuple[pa.StructArray, HolidayNames, Refused]:
    """All payloads as one Arrow struct array, each one's holiday names by date, and refusals.

    Row ``i`` of the array is payload ``i``; it has the fields of :data:`WIRE_PAYLOAD` but
    ``holidays`` (those are the names). A body that is not an availability object (not JSON,
    not an object, a field of the wrong type) is refused: its row has only null fields, and
    the returned dict holds its ResponseFormatError, naming the field and request id.
    """
    lines = [_one_line(payload.body) for payload in payloads]
    fast = [i for i, line in enumerate(lines) if line is not None]
    exact = [i for i, line in enumerate(lines) if line is None]
    bodies = [line for line in lines if line is not None]
    parts = _read_halving(fast, bodies, payloads) if fast else []
    if exact:
        parts.append((exact, *_read_slow([payloads[i] for i in exact])))
    return _assemble(parts, len(payloads))


_Part = tuple[list[int], pa.StructArray, HolidayNames, Refused]  # rows, read with local indices


def _assemble(parts: list[_Part], count: int) -> tuple[pa.StructArray, HolidayNames, Refused]:
    """The parts' rows back in payload order, their indices turned into payload indices."""
    if len(parts) == 1 and len(parts[0][0]) == count:
        return parts[0][1:]  # the usual case: one read of all, already in order
    if not parts:
        return pa.array([], _FAST_TYPE), {}, {}
    names: HolidayNames = {}
    refused: Refused = {}
    for rows, _, part_names, part_refused in parts:
        names.update({(rows[i], day): name for (i, day), name in part_names.items()})
        refused.update({rows[i]: error for i, error in part_refused.items()})
    order = np.concatenate([np.asarray(rows, dtype=np.int64) for rows, *_ in parts])
    wire = pa.concat_arrays([part[1] for part in parts]).take(pa.array(np.argsort(order)))
    return wire, names, refused


# -- the fast path: Arrow's JSON reader over every body at once ------------------------------


def _read_halving(rows: list[int], lines: list[bytes], payloads: Sequence[Payload]) -> list[_Part]:
    """``rows`` on the fast path, halving a batch that Arrow refuses until its culprits stand out.

    Batches of at most ``_MIN_HALVED`` bodies that Arrow still refuses go to the exact path,
    which names what is wrong. One bad body among n costs about three fast reads of the n,
    not an exact read of all of them.
    """
    fast = _read_fast_lines(lines)  # lines[k] is the body of payloads[rows[k]]
    if fast is not None:
        return [(rows, *fast, {})]
    if len(rows) <= _MIN_HALVED:
        return [(rows, *_read_slow([payloads[i] for i in rows]))]
    half = len(rows) // 2
    return _read_halving(rows[:half], lines[:half], payloads) + _read_halving(
        rows[half:], lines[half:], payloads
    )


def _read_fast(payloads: Sequence[Payload]) -> tuple[pa.StructArray, HolidayNames] | None:
    """Every payload on the fast path, or None if any of them cannot go there."""
    lines = [_one_line(payload.body) for payload in payloads]
    bodies = [line for line in lines if line is not None]
    return _read_fast_lines(bodies) if bodies and len(bodies) == len(lines) else None


def _read_fast_lines(lines: Sequence[bytes]) -> tuple[pa.StructArray, HolidayNames] | None:
    """One-line bodies read by Arrow at once, or None if Arrow cannot be trusted with them."""
    text = _ndjson(lines)
    if text is None:
        return None
    block = max(_MIN_BLOCK_BYTES, 2 * max(len(line) for line in lines) + 64)
    if block > _MAX_BLOCK_BYTES:
        return None
    table = _read_json(text, pa.schema(_FAST_SCHEMA), block)
    if table is None or not _rows_line_up(table.column(_FAST_SCHEMA[0].name), len(lines)):
        return None
    wire = pa.StructArray.from_arrays(
        [table.column(f.name).combine_chunks() for f in _FAST_FIELDS], fields=_FAST_FIELDS
    )
    names = _fast_holidays(text, wire, block)
    return (wire, names) if names is not None else None


def _one_line(body: bytes) -> bytes | None:
    """The body stripped, if it is one object on one line (else the exact path reads it)."""
    body = body.strip(b" \t\r\n")  # the same object when there is nothing to strip
    if not (body.startswith(b"{") and body.endswith(b"}")) or b"\n" in body or b"\r" in body:
        return None  # a raw line break inside a string would be invalid JSON: be exact
    return body


def _ndjson(lines: Sequence[bytes]) -> bytes | None:
    """Every body as one NDJSON line that starts with its row tag, or None if not UTF-8.

    Built with memoryviews, so the bodies are copied once, into the text itself.
    """
    pieces: list[bytes | memoryview] = []
    for row, body in enumerate(lines):
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


def _read_slow(payloads: Sequence[Payload]) -> tuple[pa.StructArray, HolidayNames, Refused]:
    """Each body decoded by json; one that is no availability object is refused, not raised.

    A refused body's row is converted from ``{}``: every field null.
    """
    refused: Refused = {}
    datas: list[Any] = []
    for index, payload in enumerate(payloads):
        try:
            data = payload.decoded()
        except ResponseFormatError as error:
            refused[index], data = error, {}
        if not isinstance(data, dict):  # a null row would read as a struct of empty fields
            refused[index], data = problem(payload, "the body", "is not a JSON object"), {}
        datas.append(data)
    try:
        wire = pa.array(datas, type=WIRE_PAYLOAD)
    except _CONVERSION_ERRORS:
        refused.update(_culprits(payloads, datas, refused))
        wire = pa.array([{} if i in refused else d for i, d in enumerate(datas)], WIRE_PAYLOAD)
    names = _slow_holidays(wire.field("holidays"))
    fast_fields = [wire.field(field.name) for field in _FAST_FIELDS]
    return pa.StructArray.from_arrays(fast_fields, fields=_FAST_FIELDS), names, refused


def _culprits(payloads: Sequence[Payload], datas: list[Any], refused: Refused) -> Refused:
    """The bodies that keep the batch from converting, each with its first bad field named.

    Types come first: a ``[]`` where an object belongs converts alone, not beside an object;
    then any body that does not convert alone.
    """
    found: Refused = {}
    for index, (payload, data) in enumerate(zip(payloads, datas, strict=True)):
        wrong = None if index in refused else _first_wrong(data)
        if wrong is not None:
            found[index] = problem(payload, *wrong)
    for index, (payload, data) in enumerate(zip(payloads, datas, strict=True)):
        if index in refused or index in found:
            continue
        try:
            pa.array([data], type=WIRE_PAYLOAD)
        except _CONVERSION_ERRORS:
            found[index] = problem(payload, "a field", "has an unexpected type")
    return found


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


def _fields(data: dict[str, Any]) -> Iterator[tuple[str, object, type]]:
    """(path, value, expected JSON type) of every field the wire schema reads, outside in."""
    yield from _walk(data, AVAILABILITY_BODY, "")


def _walk(
    data: dict[str, Any], specs: Sequence[WireField], prefix: str
) -> Iterator[tuple[str, object, type]]:
    for spec in specs:
        value, path = data.get(spec.name), f"{prefix}{spec.name}"
        yield path, value, _JSON_OF_KIND[spec.kind]
        if spec.kind == "list" and isinstance(value, list):
            items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
        elif spec.kind == "map" and isinstance(value, dict):
            items = [(f"{path}[{key!r}]", entry) for key, entry in value.items()]
        else:
            continue
        for where, item in items:
            yield where, item, dict
            if isinstance(item, dict):
                yield from _walk(item, spec.items, f"{where}.")


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
    int: f"a whole number in {_INT16.start}..{_INT16.stop - 1}",
    list: "a list",
    dict: "an object",
}
