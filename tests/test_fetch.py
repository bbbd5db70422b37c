"""fetch_availability: the wire → table mapping, windows, shapes, failures, and DST/holidays."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import httpx
import pandas as pd
import pytest
from conftest import NOW, UNLIMITED

from zimun_analytics import ZimunClient, fetch_availability
from zimun_analytics._errors import InputError, ResponseFormatError, ServerError
from zimun_analytics._models import Availability, Service
from zimun_analytics._schema import DAYS, ERRORS, SLOTS, empty_frame
from zimun_analytics.fetch._mapping import parse_payloads, tables_from_payloads, tables_from_wire
from zimun_analytics.fetch._wire import Call, Payload


@pytest.fixture(scope="module")
def snapshot(sandbox):
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
        return fetch_availability(client, days_ahead=14, progress=False)


def _fetch(sb, **kwargs):
    with ZimunClient("demo", "demo-secret", sb.base_url, max_retries=10) as client:
        return fetch_availability(client, progress=False, **kwargs)


@pytest.mark.parametrize(("table", "spec"), [("slots", SLOTS), ("days", DAYS), ("errors", ERRORS)])
def test_columns_and_dtypes_are_exactly_the_schema(snapshot, table, spec):
    frame = getattr(snapshot, table)
    assert list(frame.columns) == spec.names
    assert frame.dtypes.equals(empty_frame(spec).dtypes)


def test_every_active_service_and_location_is_fetched(snapshot):
    pairs = snapshot.days[["service_id", "location_id"]].drop_duplicates()
    assert len(pairs) == 20  # 12 active services over their locations
    assert "s_legacy_perm" not in set(pairs.service_id)
    assert snapshot.complete and snapshot.errors.empty
    assert snapshot.meta["counts"]["slots"] == len(snapshot.slots)


def test_fetched_at_is_the_services_clock_and_lead_times_follow(snapshot):
    assert (snapshot.slots.fetched_at == pd.Timestamp(NOW)).all()
    first = snapshot.slots.sort_values("slot_start").iloc[0]
    hours = (first.slot_start - pd.Timestamp(NOW)).total_seconds() / 3600
    assert first.lead_time_hours == pytest.approx(hours)
    assert (snapshot.slots.lead_time_hours > 0).all()


def test_no_customer_details_in_a_snapshot(snapshot):
    columns = set(snapshot.slots) | set(snapshot.days) | set(snapshot.errors)
    assert not {c for c in columns if c.startswith("contact") or c in {"notes", "email"}}


def test_holidays_and_closed_days_are_kept_apart_from_full_days(snapshot):
    berlin = snapshot.days[(snapshot.days.location_id == "l_berlin")]
    good_friday = berlin[berlin.local_date == pd.Timestamp("2026-04-03")]
    assert set(good_friday.status) == {"holiday"}
    assert set(good_friday.holiday_name) == {"Good Friday"}
    closed = berlin[berlin.holiday_name == "Closed for staff training"]
    assert not closed.empty and set(closed.status) == {"holiday"}
    sundays = berlin[berlin.local_date.dt.day_of_week == 6]
    assert set(sundays.status) == {"closed"} and (sundays.n_slots == 0).all()
    slot_dates = snapshot.slots[snapshot.slots.location_id == "l_berlin"].local_date
    assert pd.Timestamp("2026-04-03") not in set(slot_dates)


def test_dst_day_slots_land_on_their_local_dates_and_hours(sandbox):
    snap = _fetch(
        sandbox,
        services=["s_haircut"],
        locations=["l_london"],
        days_ahead=2,
        start_date=date(2026, 3, 28),
    )
    first = snap.slots.sort_values("slot_start").groupby("local_date").first()
    saturday, sunday = first.loc[pd.Timestamp("2026-03-28")], first.loc[pd.Timestamp("2026-03-29")]
    assert saturday.slot_start == pd.Timestamp("2026-03-28T09:00Z") and saturday.local_hour == 9
    assert sunday.slot_start == pd.Timestamp("2026-03-29T09:00Z") and sunday.local_hour == 10
    assert sunday.weekday == 6


def test_fall_back_day_in_new_york(sandbox):
    snap = _fetch(sandbox, services=["s_consult"], days_ahead=1, start_date=date(2026, 11, 1))
    assert set(snap.slots.local_date) == {pd.Timestamp("2026-11-01")}
    opening = snap.slots.sort_values("slot_start").iloc[0]
    assert opening.slot_start == pd.Timestamp("2026-11-01T16:00Z")  # 11:00 EST, -05:00
    assert opening.local_hour == 11


def test_spans_over_sixty_days_are_split_and_stitched(sandbox):
    snap = _fetch(sandbox, services=["s_massage_60"], days_ahead=130)
    per_location = snap.days.groupby("location_id").local_date.agg(
        ["nunique", "size", "min", "max"]
    )
    assert (per_location["nunique"] == 130).all() and (per_location["size"] == 130).all()
    assert (per_location["max"] - per_location["min"]).eq(pd.Timedelta(days=129)).all()
    assert not snap.slots.duplicated(["service_id", "location_id", "slot_start"]).any()
    assert snap.meta["counts"]["calls"] == 2 * 3  # two locations x three windows


def test_both_availability_shapes_give_the_same_free_capacity(make_sandbox):
    listed = _fetch(make_sandbox(**UNLIMITED), services=["s_haircut"], days_ahead=7)
    omitted = _fetch(
        make_sandbox(omit_full_slots=True, **UNLIMITED), services=["s_haircut"], days_ahead=7
    )
    assert (listed.slots.available == 0).any() and not (omitted.slots.available == 0).any()
    key = ["location_id", "local_date"]
    assert listed.days.set_index(key).free_capacity.equals(
        omitted.days.set_index(key).free_capacity
    )
    free = listed.slots[listed.slots.available > 0].drop(columns="snapshot_id")
    pd.testing.assert_frame_equal(
        free.reset_index(drop=True), omitted.slots.drop(columns="snapshot_id")
    )


def test_snapshot_under_faults_equals_the_fault_free_one(make_sandbox):
    calm = _fetch(make_sandbox(seed=3, **UNLIMITED), days_ahead=7)
    stormy = _fetch(make_sandbox(seed=3, fault_rate=0.2, **UNLIMITED), days_ahead=7)
    key = ["service_id", "location_id", "slot_start"]
    for table in ["slots", "days"]:
        a = getattr(calm, table).drop(columns="snapshot_id")
        b = getattr(stormy, table).drop(columns="snapshot_id")
        order = key if table == "slots" else key[:2] + ["local_date"]
        pd.testing.assert_frame_equal(
            a.sort_values(order, ignore_index=True), b.sort_values(order, ignore_index=True)
        )


class FailingService(httpx.AsyncHTTPTransport):
    """A real transport, except that one service's availability always fails."""

    async def handle_async_request(self, request):
        if request.url.params.get("service_id") == "s_facial":
            return httpx.Response(
                503,
                json={"error": {"code": "internal", "message": "down"}},
                headers={"X-Request-Id": "req_down"},
            )
        return await super().handle_async_request(request)


def test_a_failing_service_lands_in_errors_and_the_rest_completes(sandbox):
    with ZimunClient(
        "demo", "demo-secret", sandbox.base_url, transport=FailingService(), max_retries=1
    ) as client:
        snap = fetch_availability(client, days_ahead=3, progress=False)
        with pytest.raises(ServerError):
            fetch_availability(client, days_ahead=3, progress=False, strict=True)
    assert not snap.complete
    error = snap.errors.iloc[0]
    assert (error.service_id, error.error_class, error.status_code) == (
        "s_facial",
        "ServerError",
        503,
    )
    assert error.request_id == "req_down"
    assert "s_facial" not in set(snap.slots.service_id)
    assert snap.slots.service_id.nunique() == 11


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"services": ["s_nope"]}, "unknown service ids: s_nope"),
        ({"locations": ["l_mars"]}, "l_mars"),
        ({"days_ahead": 0}, "between 1 and 366"),
        ({"concurrency": 0}, "concurrency"),
        ({"start_date": "2026-01-01"}, "datetime.date"),
    ],
)
def test_bad_arguments_get_one_clear_error(sandbox, kwargs, message):
    with pytest.raises(InputError, match=message):
        _fetch(sandbox, **kwargs)


# -- the mapping alone, on hand-made payloads -----------------------------------------------------

SERVICE = Service(
    service_id="s_1",
    name="Cut",
    duration_minutes=30,
    buffer_minutes=0,
    location_ids=("l_1",),
    active=True,
)


def _payload(slots, **extra):
    data = {
        "organization_id": "o_1",
        "service_id": "s_1",
        "location_id": "l_1",
        "timezone": "Europe/Berlin",
        "start_date": "2026-03-29",
        "days_ahead": 1,
        "days": [{"date": "2026-03-29", "status": "open", "slots": slots}],
        **extra,
    }
    call = Call(SERVICE, data["location_id"], None, 1)  # the call this body answers
    return Payload.from_data(call, data, "req_x")


def _tables(*payloads):
    return tables_from_payloads(list(payloads), "snap", datetime(2026, 3, 29, tzinfo=UTC), "o_1")


def test_missing_optional_fields_become_nulls():
    slots, days = _tables(_payload([{"start": "2026-03-29T10:00:00+02:00", "extra": 1}]))
    row = slots.iloc[0]
    assert pd.isna(row.slot_end) and pd.isna(row.capacity) and pd.isna(row.available)
    assert row.local_hour == 10 and row.duration_minutes == 30
    assert pd.isna(days.iloc[0].free_capacity) and days.iloc[0].n_slots == 1


@pytest.mark.parametrize(
    "slot",
    [
        {"capacity": 1},
        {"start": "2026-03-29T10:00:00"},
        {"start": "soon"},
        {"start": "2026-03-29T10:00:00+02:00", "available": "two"},
    ],
)
def test_missing_or_malformed_required_fields_raise_one_clear_error(slot):
    with pytest.raises(ResponseFormatError, match="availability"):
        _tables(_payload([slot]))


GOOD_SLOT = {"start": "2026-03-29T10:00:00+02:00", "capacity": 2, "available": 1}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"days": "soon"}, "days"),
        ({"days": [1]}, r"days\[0\]"),
        ({"days": [{"date": "2026-03-29", "status": "open", "slots": [7]}]}, r"slots\[0\]"),
        ({"days": [{"date": 20260329, "status": "open", "slots": []}]}, r"days\[0\]\.date"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": 1}, "timezone"),
        ({"holidays": {"2026-03-29": "Easter"}}, "holidays"),
    ],
)
def test_malformed_structure_names_the_field_and_request(change, field):
    payload = _payload([GOOD_SLOT], **change)
    with pytest.raises(ResponseFormatError, match=f"{field}.*req_x"):
        _tables(payload)


@pytest.mark.parametrize("value", [40_000, -40_000, True, 10**30, "2", [2]])
def test_a_count_that_is_not_a_small_whole_number_is_named(value):
    with pytest.raises(ResponseFormatError, match=r"slots\[0\]\.capacity.*req_x"):
        _tables(_payload([{**GOOD_SLOT, "capacity": value}]))


def test_a_whole_float_count_is_read_as_that_number():
    slots, _ = _tables(_payload([{**GOOD_SLOT, "capacity": 2.0, "available": 1.0}]))
    assert slots.capacity.tolist() == [2] and slots.available.tolist() == [1]


SLOT = {"start": "2026-03-29T10:00:00+02:00", "capacity": 2, "available": 1}


def _raw(body: bytes, days_ahead: int = 1, location_id: str = "l_1") -> Payload:
    """A payload of these bytes, answering a call for ``days_ahead`` days at ``location_id``."""
    return Payload(Call(SERVICE, location_id, None, days_ahead), body, "req_raw")


def _two_days(slots, holiday):
    """A body of two days (the second a holiday named ``holiday``), as the service sends it."""
    data = json.loads(_payload(slots).body)
    data["days"].append({"date": "2026-03-30", "status": "holiday", "slots": []})
    data["days_ahead"] = 2
    data["holidays"] = {"2026-03-30": holiday}
    return data


def test_pretty_printed_bodies_map_like_compact_ones():
    data = _two_days([SLOT], {"name": "Fête", "kind": "closed"})
    compact = _raw(json.dumps(data).encode(), days_ahead=2)
    pretty = _raw(json.dumps(data, indent=2, ensure_ascii=False).encode(), days_ahead=2)
    a, b = _tables(compact), _tables(pretty)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert b[1].holiday_name.tolist()[1] == "Fête" and len(b[0]) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [(b"<html>busy</html>", "is not JSON"), (b"[1, 2]", "not a JSON object"), (b"", "not JSON")],
)
def test_a_body_that_is_not_an_availability_object_raises_naming_its_request(body, says):
    with pytest.raises(ResponseFormatError, match=f"{says}.*req_raw"):
        _tables(_payload([SLOT]), _raw(body))


def test_holiday_names_are_found_wherever_the_map_sits_in_the_body():
    day = {"date": "2026-03-29", "status": "holiday", "slots": []}
    holidays = {"2026-03-29": {"name": "holidays", "kind": "public_holiday"}}
    first = {"holidays": holidays, "timezone": "Europe/Berlin", "days": [day]}
    decoy = {**first, "zz_notes": {"holidays": {"2026-03-29": {"name": "decoy"}}}}
    no_map = {"timezone": "Europe/Berlin", "days": [day]}
    names = [_tables(_raw(json.dumps(d).encode()))[1].holiday_name[0] for d in (first, decoy)]
    assert names == ["holidays", "holidays"]  # a nested "holidays" key is not the map
    assert pd.isna(_tables(_raw(json.dumps(no_map).encode()))[1].holiday_name[0])


@pytest.mark.parametrize("bodies", [[b"null"], [b"{}", b" null "], [b"[{}]"]])
def test_a_body_that_is_no_object_is_refused_wherever_it_sits(bodies):
    payloads = [_payload([SLOT])] + [_raw(body) for body in bodies]
    with pytest.raises(ResponseFormatError, match="(not a JSON object|timezone is missing).*req_"):
        _tables(*payloads)


def test_rows_never_shift_to_another_request():
    """An empty body beside a body of two objects keeps the row count: still refused."""
    a, c = (json.loads(_payload([SLOT]).body) for _ in range(2))
    c["location_id"] = "l_c"
    empty = Payload(Call(SERVICE, "l_b", None, 1), b"", "req_empty")
    two = _raw(json.dumps(a).encode() + b" " + json.dumps(c).encode())
    with pytest.raises(ResponseFormatError, match="not JSON.*req_empty"):
        _tables(_raw(json.dumps(a).encode()), empty, two)


def test_a_body_that_is_not_utf8_is_refused():
    body = _payload([SLOT]).body.replace(b'"l_1"', b'"l_\xff"')
    with pytest.raises(ResponseFormatError, match="not JSON.*req_raw"):
        _tables(_raw(body))


def test_a_body_bigger_than_the_readers_blocks_maps_whole():
    slots = [  # from 02:00: an earlier +02:00 is the 28th in Berlin (DST begins on the 29th)
        {**SLOT, "start": f"2026-03-29T{h:02d}:{m:02d}:00+02:00"}
        for h in range(2, 24)
        for m in range(60)
    ]
    big = json.loads(_payload(slots).body)
    big["padding"] = "x" * (9 << 20)  # bigger than two 4 MiB blocks
    before, after = _payload([SLOT], location_id="l_0"), _payload([SLOT], location_id="l_2")
    frames = _tables(before, _raw(json.dumps(big).encode()), after)
    assert frames[0].location_id.drop_duplicates().tolist() == ["l_0", "l_1", "l_2"]
    assert len(frames[0]) == 2 + 22 * 60


def test_compact_bodies_take_the_fast_path_and_agree_with_the_exact_one():
    from zimun_analytics.fetch import _wire as wire

    slots = [SLOT, {**SLOT, "start": "2026-03-29T11:00:00+02:00"}]
    data = _two_days(slots, {"name": "Fête", "kind": "closed"})
    payloads = [_raw(json.dumps(data).encode(), days_ahead=2), _payload([SLOT])]
    fast, slow = wire._read_fast(payloads), wire._read_slow(payloads)
    assert fast is not None and fast[1] == slow[1] == {(0, "2026-03-30"): "Fête"}
    for name in ["days", "timezone", "location_id", "generated_at", "slot_duration_minutes"]:
        assert fast[0].field(name).equals(slow[0].field(name))


def test_an_empty_list_where_an_object_belongs_is_named_even_beside_good_bodies():
    bad = json.loads(_payload([SLOT]).body)
    bad["days"][0]["slots"] = [[]]
    with pytest.raises(ResponseFormatError, match=r"days\[0\]\.slots\[0\] is \[\].*req_raw"):
        _tables(_payload([SLOT]), _raw(json.dumps(bad).encode()))


@pytest.mark.parametrize("indent", [None, 1], ids=["fast", "exact"])
def test_null_entries_read_the_same_on_both_paths(indent):
    """A pretty-printed body goes down the exact path, a compact one the fast: same answers."""
    data = _two_days([SLOT], None)
    neighbour = _payload([SLOT], location_id="l_2")
    payloads = [_raw(json.dumps(data, indent=indent).encode(), days_ahead=2), neighbour]
    assert pd.isna(_tables(*payloads)[1].holiday_name[1])
    data["days"].append(None)
    data["days_ahead"] = 3
    payloads[0] = _raw(json.dumps(data, indent=indent).encode(), days_ahead=3)
    with pytest.raises(ResponseFormatError, match=r"days\[2\]\.date is missing.*req_raw"):
        _tables(*payloads)


def test_a_generated_at_that_is_not_a_string_is_named():
    with pytest.raises(ResponseFormatError, match="generated_at is 5.*req_x"):
        _tables(_payload([SLOT], generated_at=5))


def test_one_bad_body_among_many_is_refused_alone_and_rows_keep_their_requests():
    """A pretty body (exact path) and a count Arrow refuses (halving) among 64 compact ones."""
    payloads = [_payload([SLOT], location_id=f"l_{i:02d}") for i in range(64)]
    bad = json.loads(payloads[37].body)
    bad["days"][0]["slots"][0]["capacity"] = 40_000
    payloads[37] = Payload.from_data(payloads[37].call, bad, "req_bad")
    pretty = json.dumps(json.loads(payloads[10].body), indent=2).encode()
    payloads[10] = Payload(payloads[10].call, pretty, "req_pretty")
    wire = parse_payloads(payloads, "o_1")
    assert [(p.request_id, e.field) for p, e in wire.refused] == [
        ("req_bad", "days[0].slots[0].capacity")
    ]
    slots, days = tables_from_wire(wire, "snap", datetime(2026, 3, 29, tzinfo=UTC), "o_1")
    expected = [f"l_{i:02d}" for i in range(64) if i != 37]
    assert slots.location_id.tolist() == days.location_id.tolist() == expected


def test_the_strict_mapping_raises_the_first_refused_body_in_order():
    bodies = [_payload([{**SLOT, "available": -1}], location_id="l_a"), _payload([SLOT])]
    bodies.append(_payload([SLOT], location_id="l_z", timezone="Nowhere/City"))
    with pytest.raises(ResponseFormatError, match=r"slots\[0\]\.available is -1"):
        _tables(*bodies)
    assert [e.field for _, e in parse_payloads(bodies).refused] == [
        "days[0].slots[0].available",
        "timezone",
    ]


def test_the_organization_is_checked_only_when_known():
    other = _payload([SLOT], organization_id="o_2")
    assert parse_payloads([other]).refused == []
    (refused,) = parse_payloads([other], "o_1").refused
    assert "organization_id is 'o_2', not the organization's (o_1)" in str(refused[1])


def test_empty_input_gives_empty_typed_frames():
    slots, days = tables_from_payloads([], "snap", datetime(2026, 3, 29, tzinfo=UTC))
    assert slots.empty and slots.dtypes.equals(empty_frame(SLOTS).dtypes)
    assert days.dtypes.equals(empty_frame(DAYS).dtypes)


def test_repr_html_summarises(snapshot):
    html = snapshot._repr_html_()
    assert "AvailabilitySnapshot" in html and str(len(snapshot.slots)) in html


def test_frames_come_in_a_stable_order_whatever_order_calls_finish_in(sandbox):
    first = _fetch(sandbox, services=["s_haircut", "s_quick_trim"], days_ahead=3)
    second = _fetch(sandbox, services=["s_haircut", "s_quick_trim"], days_ahead=3)
    for table in ["slots", "days"]:
        a = getattr(first, table).drop(columns="snapshot_id")
        b = getattr(second, table).drop(columns="snapshot_id")
        pd.testing.assert_frame_equal(a, b)
    assert first.slots.service_id.is_monotonic_increasing


# -- one declaration: the record of one call and the fetch read a body the same way ---------------

_SOUND_SLOT = {
    "start": "2026-03-29T10:00:00+02:00",
    "end": "2026-03-29T10:30:00+02:00",
    "capacity": 3,
    "available": 2,
}


def _with(path, value):
    """The sound body with ``path`` set to ``value`` (``...`` deletes it)."""
    data = json.loads(_payload([dict(_SOUND_SLOT)]).body)
    *parents, last = path
    target = data
    for key in parents:
        target = target[key]
    if value is ...:
        target.pop(last, None)
    else:
        target[last] = value
    return data


# (path, value): every kind, presence and bound the declaration gives, and the relations
_BODY_CASES = [
    (("timezone",), ...),
    (("timezone",), "Mars/Olympus"),
    (("timezone",), 7),
    (("days",), ...),
    (("days",), {"2026-03-29": []}),
    (("days", 0, "date"), ...),
    (("days", 0, "date"), "29.03.2026"),
    (("days", 0, "status"), ...),
    (("days", 0, "slots", 0, "start"), ...),
    (("days", 0, "slots", 0, "start"), "10:00"),
    (("days", 0, "slots", 0, "end"), "2026-03-29T10:30:00"),
    (("days", 0, "slots", 0, "capacity"), "3"),
    (("days", 0, "slots", 0, "capacity"), 10**30),
    (("days", 0, "slots", 0, "capacity"), 10_001),
    (("days", 0, "slots", 0, "available"), -5),
    (("days", 0, "slots", 0, "available"), 4),  # above capacity
    (("slot_duration_minutes",), 0),
    (("generated_at",), "yesterday"),
    (("service_id",), "s_other"),  # not the one asked for
    (("days_ahead",), 2),  # one day listed, and asked
    (("holidays",), ["2026-03-29"]),
    # sound ones: optional fields missing, or a value at a bound
    (("days", 0, "slots", 0, "end"), ...),
    (("days", 0, "slots", 0, "available"), ...),
    (("days", 0, "slots", 0, "capacity"), 10_000),
    (("holidays",), ...),
    (("generated_at",), ...),
    (("location_id",), ...),
]


@pytest.mark.parametrize(("path", "value"), _BODY_CASES, ids=lambda x: repr(x)[:40])
def test_the_one_call_record_and_the_fetch_refuse_the_same_bodies(path, value):
    data = _with(path, value)
    fetched = parse_payloads([Payload.from_data(Call(SERVICE, "l_1", None, 1), data, "req_x")])
    asked = {"service_id": "s_1", "location_id": "l_1", "days_ahead": 1}
    try:
        Availability.from_response(data, asked, request_id="req_x")
    except ResponseFormatError as error:
        record_refused = error.field
    else:
        record_refused = None
    fetch_refused = fetched.refused[0][1].field if fetched.refused else None
    assert (record_refused is None) == (fetch_refused is None), (record_refused, fetch_refused)
    if record_refused is not None:  # both name the field at fault (paths spelled alike)
        leaf = str(path[-1]) if isinstance(path[-1], str) else str(path[-2])
        assert leaf in record_refused or "days" in record_refused, record_refused
        assert leaf in fetch_refused or "days" in fetch_refused, fetch_refused
