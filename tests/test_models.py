"""Records parsed from contract-shaped JSON, and the tolerance rules of the contract."""

import ast
import copy
import dataclasses
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import html_tables
import pytest
from conftest import NOW

import zimun_analytics._models as models_module
from zimun_analytics import ZimunClient
from zimun_analytics._errors import InputError, ResponseFormatError
from zimun_analytics._models import (
    Appointment,
    Availability,
    AvailabilityDay,
    Hold,
    Holiday,
    Location,
    Organization,
    Service,
    Slot,
)

REQUEST_ID = "req_abc"
CET = timezone(timedelta(hours=1))

ORGANIZATION = {
    "organization_id": "o_demo",
    "name": "Demo Praxis",
    "timezone": "Europe/Berlin",
    "country": "DE",
}
LOCATION = {
    "location_id": "l_berlin",
    "name": "Berlin Mitte",
    "timezone": "Europe/Berlin",
    "country": "DE",
    "subdivision": "DE-BE",
    "address": "Invalidenstr. 1, 10115 Berlin",
    "active": True,
}
SERVICE = {
    "service_id": "s_123",
    "name": "Consultation",
    "duration_minutes": 30,
    "buffer_minutes": 5,
    "location_ids": ["l_berlin", "l_hamburg"],
    "active": True,
}
AVAILABILITY = {
    "organization_id": "o_demo",
    "service_id": "s_123",
    "location_id": "l_berlin",
    "timezone": "Europe/Berlin",
    "start_date": "2025-12-01",
    "days_ahead": 2,
    "generated_at": "2025-12-01T08:00:00Z",
    "slot_duration_minutes": 30,
    "days": [
        {
            "date": "2025-12-01",
            "status": "open",
            "slots": [
                {
                    "start": "2025-12-01T10:00:00+01:00",
                    "end": "2025-12-01T10:30:00+01:00",
                    "capacity": 3,
                    "available": 2,
                },
                {
                    "start": "2025-12-01T10:30:00+01:00",
                    "end": "2025-12-01T11:00:00+01:00",
                    "capacity": 3,
                    "available": 0,
                },
            ],
        },
        {"date": "2025-12-25", "status": "holiday", "slots": []},
    ],
    "holidays": {
        "2025-12-29": {"name": "Inventory", "kind": "closed"},
        "2025-12-25": {"name": "Christmas Day", "kind": "public_holiday"},
    },
}
HOLD = {
    "hold_id": "h_1",
    "status": "held",
    "organization_id": "o_demo",
    "service_id": "s_123",
    "location_id": "l_berlin",
    "appointment_time": "2025-12-01T10:00:00+01:00",
    "appointment_duration": 30,
    "expires_at": "2025-12-01T08:10:00Z",
}
APPOINTMENT = {
    "appointment_id": "a_1",
    "status": "confirmed",
    "hold_id": "h_1",
    "organization_id": "o_demo",
    "service_id": "s_123",
    "location_id": "l_berlin",
    "appointment_time": "2025-12-01T10:00:00+01:00",
    "appointment_duration": 30,
    "contact_name": "Erika Mustermann",
    "contact_email": "erika@example.org",
    "contact_phone": "+49 30 1234567",
    "notes": "first visit, knee pain",
    "created_at": "2025-12-01T08:01:00Z",
    "updated_at": "2025-12-01T08:01:00Z",
}
EXAMPLES = {
    Organization: ORGANIZATION,
    Location: LOCATION,
    Service: SERVICE,
    Availability: AVAILABILITY,
    Hold: HOLD,
    Appointment: APPOINTMENT,
}
ENDPOINTS = {
    Organization: "GET /api/v1/organization",
    Location: "GET /api/v1/locations",
    Service: "GET /api/v1/services",
    Availability: "GET /api/v1/availability",
    Hold: "POST /api/v1/appointments/hold",
    Appointment: "GET /api/v1/appointments/a_1",
}


def parse(cls, data=None, **kwargs):
    data = EXAMPLES[cls] if data is None else data
    return cls.from_json(data, endpoint=ENDPOINTS[cls], request_id=REQUEST_ID, **kwargs)


def without(cls, path):
    """A deep copy of the example for ``cls`` with the item at ``path`` removed."""
    data = copy.deepcopy(EXAMPLES[cls])
    *parents, last = path
    target = data
    for key in parents:
        target = target[key]
    del target[last]
    return data


def replaced(cls, path, value):
    """A deep copy of the example for ``cls`` with the item at ``path`` set to ``value``."""
    data = copy.deepcopy(EXAMPLES[cls])
    *parents, last = path
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    return data


# -- each record from a contract-shaped example -------------------------------------------------


def test_organization_from_contract_example():
    assert parse(Organization) == Organization("o_demo", "Demo Praxis", "Europe/Berlin", "DE")


def test_location_from_contract_example():
    assert parse(Location) == Location(
        "l_berlin",
        "Berlin Mitte",
        "Europe/Berlin",
        "DE",
        "DE-BE",
        "Invalidenstr. 1, 10115 Berlin",
        True,
    )


def test_service_from_contract_example():
    assert parse(Service) == Service(
        "s_123", "Consultation", 30, 5, ("l_berlin", "l_hamburg"), True
    )


def test_availability_header_fields():
    availability = parse(Availability)
    assert (availability.organization_id, availability.service_id) == ("o_demo", "s_123")
    assert (availability.location_id, availability.timezone) == ("l_berlin", "Europe/Berlin")
    assert (availability.start_date, availability.days_ahead) == (date(2025, 12, 1), 2)
    assert availability.generated_at == datetime(2025, 12, 1, 8, tzinfo=UTC)
    assert availability.slot_duration_minutes == 30


def test_availability_days_and_slots():
    days = parse(Availability).days
    assert [(day.date, day.status, len(day.slots)) for day in days] == [
        (date(2025, 12, 1), "open", 2),
        (date(2025, 12, 25), "holiday", 0),
    ]
    assert days[0].slots[0] == Slot(
        datetime(2025, 12, 1, 10, tzinfo=CET), datetime(2025, 12, 1, 10, 30, tzinfo=CET), 3, 2
    )


def test_slot_keeps_the_location_offset():
    slot = parse(Availability).days[0].slots[0]
    assert slot.start.utcoffset() == timedelta(hours=1)
    assert slot.start.isoformat() == "2025-12-01T10:00:00+01:00"


def test_holiday_map_becomes_sorted_records():
    assert parse(Availability).holidays == (
        Holiday(date(2025, 12, 25), "Christmas Day", "public_holiday"),
        Holiday(date(2025, 12, 29), "Inventory", "closed"),
    )


def test_availability_iterates_all_and_free_slots():
    availability = parse(Availability)
    assert [slot.available for slot in availability.slots()] == [2, 0]
    assert [slot.available for slot in availability.free_slots()] == [2]


def test_hold_from_contract_example():
    assert parse(Hold) == Hold(
        "h_1",
        "held",
        "o_demo",
        "s_123",
        "l_berlin",
        datetime(2025, 12, 1, 10, tzinfo=CET),
        30,
        datetime(2025, 12, 1, 8, 10, tzinfo=UTC),
    )


def test_appointment_from_contract_example():
    appointment = parse(Appointment)
    assert (appointment.appointment_id, appointment.status, appointment.hold_id) == (
        "a_1",
        "confirmed",
        "h_1",
    )
    assert appointment.appointment_time == datetime(2025, 12, 1, 10, tzinfo=CET)
    assert appointment.contact_email == "erika@example.org"
    assert appointment.created_at == datetime(2025, 12, 1, 8, 1, tzinfo=UTC)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_raw_holds_the_decoded_json(cls):
    assert parse(cls).raw == EXAMPLES[cls]


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_unknown_fields_are_ignored_but_kept_in_raw(cls):
    data = {**EXAMPLES[cls], "loyalty_tier": "gold", "links": {"self": "/x"}}
    record = parse(cls, data)
    assert record == parse(cls)
    assert record.raw["loyalty_tier"] == "gold"


def test_unknown_nested_fields_are_kept_in_the_slot_raw():
    data = replaced(Availability, ("days", 0, "slots", 0, "price_eur"), 40)
    assert parse(Availability, data).days[0].slots[0].raw["price_eur"] == 40


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_records_are_frozen(cls):
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse(cls).raw = {}


def _slot0(availability):
    return availability.days[0].slots[0]


# -- optional fields degrade ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "path", "read", "expected"),
    [
        (Organization, ("timezone",), lambda r: r.timezone, None),
        (Organization, ("country",), lambda r: r.country, None),
        (Location, ("country",), lambda r: r.country, None),
        (Location, ("subdivision",), lambda r: r.subdivision, None),
        (Location, ("address",), lambda r: r.address, None),
        (Location, ("active",), lambda r: r.active, True),
        (Service, ("buffer_minutes",), lambda r: r.buffer_minutes, 0),
        (Service, ("location_ids",), lambda r: r.location_ids, ()),
        (Service, ("active",), lambda r: r.active, True),
        (Availability, ("location_id",), lambda r: r.location_id, None),
        (Availability, ("days_ahead",), lambda r: r.days_ahead, 2),
        (Availability, ("generated_at",), lambda r: r.generated_at, None),
        (Availability, ("slot_duration_minutes",), lambda r: r.slot_duration_minutes, None),
        (Availability, ("holidays",), lambda r: r.holidays, ()),
        (Availability, ("days", 0, "slots"), lambda r: r.days[0].slots, ()),
        (Availability, ("days", 0, "slots", 0, "end"), lambda r: _slot0(r).end, None),
        (Availability, ("days", 0, "slots", 0, "capacity"), lambda r: _slot0(r).capacity, None),
        (Availability, ("days", 0, "slots", 0, "available"), lambda r: _slot0(r).available, None),
        (Availability, ("holidays", "2025-12-25", "kind"), lambda r: r.holidays[0].kind, None),
        (Hold, ("location_id",), lambda r: r.location_id, None),
        (Appointment, ("hold_id",), lambda r: r.hold_id, None),
        (Appointment, ("location_id",), lambda r: r.location_id, None),
        (Appointment, ("contact_name",), lambda r: r.contact_name, None),
        (Appointment, ("contact_email",), lambda r: r.contact_email, None),
        (Appointment, ("contact_phone",), lambda r: r.contact_phone, None),
        (Appointment, ("notes",), lambda r: r.notes, None),
        (Appointment, ("created_at",), lambda r: r.created_at, None),
        (Appointment, ("updated_at",), lambda r: r.updated_at, None),
    ],
    ids=lambda value: ".".join(map(str, value)) if isinstance(value, tuple) else None,
)
def test_missing_optional_field_degrades(cls, path, read, expected):
    assert read(parse(cls, without(cls, path))) == expected


def test_optional_null_degrades_like_missing():
    data = replaced(Availability, ("days", 0, "slots", 0, "capacity"), None)
    assert parse(Availability, data).days[0].slots[0].capacity is None


def test_slot_without_available_is_bookable():
    data = without(Availability, ("days", 0, "slots", 1, "available"))
    assert len(list(parse(Availability, data).free_slots())) == 2


@pytest.mark.parametrize(
    ("available", "bookable"), [(None, True), (0, False), (1, True), (3, True), (-1, False)]
)
def test_slot_is_bookable(available, bookable):
    slot = Slot(datetime(2025, 12, 1, 10, tzinfo=CET), None, None, available)
    assert slot.is_bookable is bookable


def test_omitted_full_slots_are_simply_absent():
    data = without(Availability, ("days", 0, "slots", 1))
    assert [slot.available for slot in parse(Availability, data).slots()] == [2]


# -- required fields missing or malformed -------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "path", "field"),
    [
        (Organization, ("organization_id",), "organization_id"),
        (Organization, ("name",), "name"),
        (Location, ("location_id",), "location_id"),
        (Location, ("name",), "name"),
        (Location, ("timezone",), "timezone"),
        (Service, ("service_id",), "service_id"),
        (Service, ("name",), "name"),
        (Service, ("duration_minutes",), "duration_minutes"),
        (Availability, ("organization_id",), "organization_id"),
        (Availability, ("service_id",), "service_id"),
        (Availability, ("start_date",), "start_date"),
        (Availability, ("timezone",), "timezone"),
        (Availability, ("days",), "days"),
        (Availability, ("days", 1, "date"), "days[1].date"),
        (Availability, ("days", 1, "status"), "days[1].status"),
        (Availability, ("days", 0, "slots", 1, "start"), "days[0].slots[1].start"),
        (Hold, ("hold_id",), "hold_id"),
        (Hold, ("status",), "status"),
        (Hold, ("organization_id",), "organization_id"),
        (Hold, ("service_id",), "service_id"),
        (Hold, ("appointment_time",), "appointment_time"),
        (Hold, ("appointment_duration",), "appointment_duration"),
        (Hold, ("expires_at",), "expires_at"),
        (Appointment, ("appointment_id",), "appointment_id"),
        (Appointment, ("status",), "status"),
        (Appointment, ("organization_id",), "organization_id"),
        (Appointment, ("service_id",), "service_id"),
        (Appointment, ("appointment_time",), "appointment_time"),
        (Appointment, ("appointment_duration",), "appointment_duration"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_missing_required_field_raises_naming_endpoint_field_and_request_id(cls, path, field):
    with pytest.raises(ResponseFormatError) as caught:
        parse(cls, without(cls, path))
    error = caught.value
    assert (error.endpoint, error.field, error.request_id) == (ENDPOINTS[cls], field, REQUEST_ID)
    assert f"{field} is missing" in str(error)
    assert ENDPOINTS[cls] in str(error)
    assert REQUEST_ID in str(error)


def test_required_null_is_reported_as_null():
    with pytest.raises(ResponseFormatError, match="hold_id is null"):
        parse(Hold, replaced(Hold, ("hold_id",), None))


@pytest.mark.parametrize(
    ("cls", "path", "value", "field"),
    [
        (Organization, ("organization_id",), 17, "organization_id"),
        (Location, ("active",), "yes", "active"),
        (Service, ("duration_minutes",), "30", "duration_minutes"),
        (Service, ("duration_minutes",), True, "duration_minutes"),
        (Service, ("location_ids",), "l_berlin", "location_ids"),
        (Service, ("location_ids", 1), 7, "location_ids[1]"),
        (Availability, ("days",), {"2025-12-01": []}, "days"),
        (Availability, ("days", 0), "open", "days[0]"),
        (Availability, ("days", 0, "date"), "2025-13-01", "days[0].date"),
        (Availability, ("days", 0, "slots", 0, "start"), "10:00", "days[0].slots[0].start"),
        (Availability, ("days", 0, "slots", 0, "capacity"), "3", "days[0].slots[0].capacity"),
        (Availability, ("holidays",), ["2025-12-25"], "holidays"),
        (Availability, ("timezone",), "Mars/Olympus", "timezone"),
        (Availability, ("days_ahead",), 3, "days"),  # two days listed
        (Availability, ("days_ahead",), 0, "days_ahead"),
        (Availability, ("slot_duration_minutes",), 0, "slot_duration_minutes"),
        (Availability, ("days", 0, "slots", 0, "capacity"), 10**30, "days[0].slots[0].capacity"),
        (Availability, ("days", 0, "slots", 0, "available"), -5, "days[0].slots[0].available"),
        (Availability, ("days", 0, "slots", 0, "available"), 4, "days[0].slots[0].available"),
        (Availability, ("holidays", "2025-12-25"), "Christmas", "holidays.2025-12-25"),
        (Availability, ("holidays", "25.12.2025"), {}, "holidays.25.12.2025"),
        (Hold, ("expires_at",), 1764576600, "expires_at"),
    ],
)
def test_malformed_field_raises_naming_its_path(cls, path, value, field):
    with pytest.raises(ResponseFormatError) as caught:
        parse(cls, replaced(cls, path, value))
    assert caught.value.field == field
    assert field in str(caught.value)


def test_integral_float_is_accepted_as_int():
    assert parse(Service, replaced(Service, ("duration_minutes",), 30.0)).duration_minutes == 30


@pytest.mark.parametrize("data", [[ORGANIZATION], "o_demo", None], ids=["list", "str", "null"])
def test_body_that_is_not_an_object_raises(data):
    with pytest.raises(ResponseFormatError, match="should be a JSON object"):
        Organization.from_json(data, endpoint="GET /api/v1/organization")


def test_path_prefixes_the_field_of_a_page_item():
    with pytest.raises(ResponseFormatError) as caught:
        parse(Location, without(Location, ("location_id",)), path="items[3]")
    assert caught.value.field == "items[3].location_id"


def test_error_without_request_id_still_reads_well():
    with pytest.raises(ResponseFormatError) as caught:
        Hold.from_json(without(Hold, ("hold_id",)), endpoint="POST /api/v1/appointments/hold")
    assert caught.value.request_id is None
    assert "None" not in str(caught.value)


# -- timestamps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "path"),
    [
        (Availability, ("days", 0, "slots", 0, "start")),
        (Availability, ("days", 0, "slots", 0, "end")),
        (Availability, ("generated_at",)),
        (Hold, ("appointment_time",)),
        (Hold, ("expires_at",)),
        (Appointment, ("appointment_time",)),
        (Appointment, ("created_at",)),
    ],
    ids=lambda value: ".".join(map(str, value)) if isinstance(value, tuple) else None,
)
def test_naive_timestamp_is_rejected(cls, path):
    with pytest.raises(ResponseFormatError, match="has no UTC offset"):
        parse(cls, replaced(cls, path, "2025-12-01T10:00:00"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-01T08:10:00Z", datetime(2025, 12, 1, 8, 10, tzinfo=UTC)),
        ("2025-12-01T08:10:00+00:00", datetime(2025, 12, 1, 8, 10, tzinfo=UTC)),
        ("2025-12-01T09:10:00.250+01:00", datetime(2025, 12, 1, 8, 10, 0, 250000, tzinfo=UTC)),
    ],
)
def test_timestamps_with_offset_are_parsed(text, expected):
    assert parse(Hold, replaced(Hold, ("expires_at",), text)).expires_at == expected


# -- hold timing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "remaining", "expired"),
    [
        (datetime(2025, 12, 1, 8, 0, tzinfo=UTC), timedelta(minutes=10), False),
        (datetime(2025, 12, 1, 9, 9, 30, tzinfo=CET), timedelta(seconds=30), False),
        (datetime(2025, 12, 1, 8, 10, tzinfo=UTC), timedelta(0), True),
        (datetime(2025, 12, 1, 9, 0, tzinfo=UTC), timedelta(0), True),
    ],
)
def test_hold_remaining_and_expiry(now, remaining, expired):
    hold = parse(Hold)
    assert (hold.remaining(now), hold.is_expired(now)) == (remaining, expired)


@pytest.mark.parametrize("method", ["remaining", "is_expired"])
def test_hold_timing_rejects_naive_now(method):
    with pytest.raises(InputError, match="now"):
        getattr(parse(Hold), method)(datetime(2025, 12, 1, 8, 0))


# -- personal data and equality ------------------------------------------------------------------


def test_appointment_repr_hides_contact_details():
    text = repr(parse(Appointment))
    assert "a_1" in text
    for secret in ("Erika", "Mustermann", "erika@example.org", "1234567", "knee", "contact"):
        assert secret not in text


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_repr_leaves_out_raw(cls):
    assert "raw=" not in repr(parse(cls))


def test_equality_and_hash_ignore_raw():
    plain = parse(Availability)
    extra = parse(Availability, {**AVAILABILITY, "extra": 1})
    assert plain == extra
    assert hash(plain) == hash(extra)


def test_day_from_json_directly():
    day = AvailabilityDay.from_json(
        {"date": "2025-12-02", "status": "closed"}, endpoint="GET /api/v1/availability"
    )
    assert (day.date, day.status, day.slots) == (date(2025, 12, 2), "closed", ())


# -- module hygiene ------------------------------------------------------------------------------


def test_the_package_exports_every_record():

    import zimun_analytics

    records = {
        name
        for name, value in vars(models_module).items()
        if isinstance(value, type)
        and issubclass(value, models_module._Record)
        and not name.startswith("_")
    }
    assert records and records <= set(zimun_analytics.__all__)


def test_imports_only_stdlib_errors_and_config():
    tree = ast.parse(Path(models_module.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.module in {"_errors", "_config"}
        elif isinstance(node, ast.ImportFrom):
            assert node.module.split(".")[0] in sys.stdlib_module_names, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] in sys.stdlib_module_names, alias.name


# -- notebook views ------------------------------------------------------------------------------
#
# A real 14-day response from the sandbox: s_eyebrow (15 minutes) at Berlin, with open, closed
# (Sundays) and holiday days (a closed override and Good Friday). Expected values come from the
# JSON the sandbox sent, never from the records under test.


@pytest.fixture(scope="module")
def sandbox_availability(sandbox):
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
        return client.availability("s_eyebrow", days_ahead=14, location_id="l_berlin")


def _from_json(raw):
    slots = [slot for day in raw["days"] for slot in day["slots"]]
    statuses = [day["status"] for day in raw["days"]]
    return {
        "days": len(raw["days"]),
        **{status: statuses.count(status) for status in ("open", "closed", "holiday")},
        "slots": len(slots),
        "free_slots": sum(slot["available"] >= 1 for slot in slots),
        "free_capacity": sum(slot["available"] for slot in slots),
    }


def _first_free_local(raw, day):
    free = [slot["start"] for slot in day["slots"] if slot["available"] >= 1]
    if not free:
        return "\N{EM DASH}"
    return datetime.fromisoformat(free[0]).astimezone(ZoneInfo(raw["timezone"])).strftime("%H:%M")


def test_sandbox_window_is_big_enough_to_matter(sandbox_availability):
    counts = _from_json(sandbox_availability.raw)
    assert counts["days"] == 14 and counts["slots"] > 300
    assert min(counts["open"], counts["closed"], counts["holiday"]) >= 1
    assert max(len(day.slots) for day in sandbox_availability.days) >= 40


def test_availability_repr_is_one_short_line_with_the_counts(sandbox_availability):
    raw = sandbox_availability.raw
    counts = _from_json(raw)
    text = repr(sandbox_availability)
    assert len(text) < 300 and "\n" not in text
    assert text.startswith("Availability('s_eyebrow', location_id='l_berlin', ")
    for part in (
        "timezone='Europe/Berlin'",
        f"dates={raw['days'][0]['date']}..{raw['days'][-1]['date']}",
        f"days=14 ({counts['open']} open, {counts['closed']} closed, {counts['holiday']} holiday)",
        f"slots={counts['slots']},",
        f"free_slots={counts['free_slots']},",
        f"free_capacity={counts['free_capacity']},",
        f"generated_at={NOW})",
    ):
        assert part in text
    assert "datetime" not in text and "Slot(" not in text


def test_day_repr_counts_its_slots_instead_of_listing_them(sandbox_availability):
    index, day = max(enumerate(sandbox_availability.days), key=lambda pair: len(pair[1].slots))
    raw_slots = sandbox_availability.raw["days"][index]["slots"]
    free = sum(slot["available"] >= 1 for slot in raw_slots)
    capacity = sum(slot["available"] for slot in raw_slots)
    assert repr(day) == (
        f"AvailabilityDay(date={day.date.isoformat()}, status='open', slots={len(raw_slots)}, "
        f"free_slots={free}, free_capacity={capacity})"
    )


def test_slot_and_holiday_keep_their_short_dataclass_repr(sandbox_availability):
    slot = sandbox_availability.days[0].slots[0]
    names = {"Slot": Slot, "Holiday": Holiday, "datetime": sys.modules["datetime"]}
    assert eval(repr(slot), names) == slot
    holiday = sandbox_availability.holidays[0]
    assert eval(repr(holiday), names) == holiday
    assert len(repr(slot)) < 300 and len(repr(holiday)) < 150


def test_availability_html_summary_matches_the_response(sandbox_availability):
    raw = sandbox_availability.raw
    counts = _from_json(raw)
    markup = sandbox_availability._repr_html_()
    assert len(markup) < 4000  # a summary, not 373 slots
    assert html_tables.summary(markup) == {
        "service": "s_eyebrow",
        "location": "l_berlin",
        "time zone": "Europe/Berlin",
        "dates": f"{raw['days'][0]['date']}..{raw['days'][-1]['date']}",
        "days": "14",
        "open days": str(counts["open"]),
        "closed days": str(counts["closed"]),
        "holiday days": str(counts["holiday"]),
        "slots": str(counts["slots"]),
        "free slots": str(counts["free_slots"]),
        "free capacity": str(counts["free_capacity"]),
        "generated at (UTC)": NOW,
    }


def test_availability_html_lists_the_first_days(sandbox_availability):
    raw = sandbox_availability.raw
    days = html_tables.parse(sandbox_availability._repr_html_()).tables[1]
    assert days["caption"] == "first 7 of 14 days"
    header, *rows = days["rows"]
    assert header == [
        "date",
        "status",
        "slots",
        "free slots",
        "free capacity",
        "first free (local)",
    ]
    assert rows == [
        [
            day["date"],
            day["status"],
            str(len(day["slots"])),
            str(sum(slot["available"] >= 1 for slot in day["slots"])),
            str(sum(slot["available"] for slot in day["slots"])),
            _first_free_local(raw, day),
        ]
        for day in raw["days"][:7]
    ]
    assert "closed" in [row[1] for row in rows]  # Sunday 29 March: a day without a free slot


def test_availability_html_escapes_what_the_api_sent(sandbox_availability):
    raw = copy.deepcopy(dict(sandbox_availability.raw))
    raw["service_id"] = "<script>alert('id')</script>"
    first = raw["days"][0]
    first["status"], first["slots"] = "holiday", []
    raw["holidays"] = {first["date"]: {"name": "Staff & <b>party</b>", "kind": "closed"}}
    availability = Availability.from_json(raw, endpoint="GET /api/v1/availability")
    markup = availability._repr_html_()
    assert "<script>" not in markup and "<b>" not in markup
    tables = html_tables.parse(markup)
    assert tables.tags == {"table", "caption", "tr", "th", "td"}
    assert html_tables.summary(markup)["service"] == "<script>alert('id')</script>"
    assert tables.tables[1]["rows"][1][:3] == [first["date"], "holiday: Staff & <b>party</b>", "0"]
    assert "alert" in repr(availability) and "\n" not in repr(availability)


def test_reprs_say_unknown_instead_of_guessing():
    data = copy.deepcopy(AVAILABILITY)
    for key in ("location_id", "generated_at"):
        del data[key]
    del data["days"][0]["slots"][1]["available"]
    data["days"][1]["status"] = "maintenance\nwindow"  # outside the contract, and two lines
    availability = parse(Availability, data)
    text = repr(availability)
    assert "location_id=None, timezone='Europe/Berlin'" in text
    assert "days=2 (1 open, 0 closed, 0 holiday, 1 'maintenance\\nwindow')" in text
    assert "free_slots=2, free_capacity=None, generated_at=unknown)" in text
    assert "\n" not in text
    rows = html_tables.summary(availability._repr_html_())
    assert (rows["location"], rows["time zone"], rows["generated at (UTC)"]) == (
        "\N{EM DASH}",
        "Europe/Berlin",
        "unknown",
    )
    assert (rows["free capacity"], rows["maintenance\nwindow days"]) == ("unknown", "1")


def _first_free_of_day_one(data):
    rows = html_tables.parse(parse(Availability, data)._repr_html_()).tables[1]["rows"]
    return rows[1][-1]


def test_first_free_slot_is_shown_in_the_location_zone():
    in_utc = replaced(Availability, ("days", 0, "slots", 0, "start"), "2025-12-01T09:00:00Z")
    assert _first_free_of_day_one(in_utc) == "10:00"  # 09:00 UTC is 10:00 in Berlin


def test_an_answer_is_checked_against_what_the_call_asked():
    asked = {"service_id": "s_123", "location_id": "l_berlin", "days_ahead": 2}
    answer = Availability.from_response(AVAILABILITY, asked, request_id=REQUEST_ID)
    assert (answer.service_id, answer.location_id, answer.days_ahead) == ("s_123", "l_berlin", 2)
    with pytest.raises(ResponseFormatError) as caught:
        Availability.from_response(AVAILABILITY, asked | {"service_id": "s_other"})
    assert caught.value.field == "service_id" and "not the one asked for (s_other)" in str(
        caught.value
    )
    bare = {k: v for k, v in AVAILABILITY.items() if k not in {"service_id", "location_id"}}
    filled = Availability.from_response(bare, asked)  # what the body omits, the call knows
    assert (filled.service_id, filled.location_id) == ("s_123", "l_berlin")


def test_summary_repr_keeps_equality_hash_and_raw(sandbox_availability):
    again = Availability.from_json(sandbox_availability.raw, endpoint="GET /api/v1/availability")
    assert again == sandbox_availability and hash(again) == hash(sandbox_availability)
    shorter = dataclasses.replace(sandbox_availability, days=sandbox_availability.days[:-1])
    assert shorter != sandbox_availability
    assert sandbox_availability.raw["service_id"] == "s_eyebrow"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sandbox_availability.service_id = "s_other"
