"""Failures stay local: one bad availability answer is one `.errors` row, the rest completes.

A real sandbox answers over loopback; a transport of the test's own changes the answer to one
call (s_facial at l_berlin) on its way to the client. Each case is run twice: with the
sandbox's compact bodies (the fast path: Arrow's JSON reader, halving the batch around a
body it refuses) and with every body pretty-printed (the exact path, json per body).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

import httpx
import pandas as pd
import pytest
from conftest import UNLIMITED

from zimun_analytics import ZimunClient, fetch_availability
from zimun_analytics._errors import APIStatusError, ResponseFormatError
from zimun_analytics.fetch import _wire as wire_module

SERVICES = ["s_facial", "s_haircut", "s_eyebrow", "s_quick_trim"]  # 9 calls, 3 days each
TARGET = ("s_facial", "l_berlin")
START = date(2026, 3, 23)  # the sandbox's today (conftest.NOW)
DAYS = 3
_DROPPED_HEADERS = {"content-length", "content-encoding", "transfer-encoding"}

Tamper = Callable[[bytes, "int | None"], tuple[int, bytes]]


class Tampering(httpx.AsyncHTTPTransport):
    """The sandbox's own answers, except the availability of ``target``, changed by ``tamper``.

    ``indent`` re-encodes every availability body pretty-printed, which sends it down the
    exact path. ``when(params)`` picks which of the target's calls to change (default all).
    """

    def __init__(
        self,
        tamper: Tamper | None = None,
        indent: int | None = None,
        when: Callable[[httpx.QueryParams], bool] = lambda params: True,
    ) -> None:
        super().__init__()
        self.tamper, self.indent, self.when = tamper, indent, when
        self.tampered: list[str] = []  # request ids of the changed answers

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path != "/api/v1/availability":
            return response
        body, status, params = await response.aread(), response.status_code, request.url.params
        asked = (params["service_id"], params.get("location_id"))
        if self.tamper is not None and asked == TARGET and self.when(params):
            status, body = self.tamper(body, self.indent)
            self.tampered.append(response.headers["x-request-id"])
        elif self.indent is not None:
            body = json.dumps(json.loads(body), indent=self.indent).encode()
        headers = [(k, v) for k, v in response.headers.items() if k not in _DROPPED_HEADERS]
        return httpx.Response(status, headers=headers, content=body)


def _fetch(sandbox, transport, strict=False, **kwargs):
    options = {"services": SERVICES, "days_ahead": DAYS, "start_date": START, **kwargs}
    with ZimunClient("demo", "demo-secret", sandbox.base_url, transport=transport) as client:
        return fetch_availability(client, progress=False, strict=strict, **options)


# -- the changes: raw bytes, or the decoded body edited and encoded again ---------------------


def _raw(replacement: Callable[[bytes], bytes], status: int = 200) -> Tamper:
    return lambda body, indent: (status, replacement(body))


def _edit(change: Callable[[dict], object], status: int = 200) -> Tamper:
    def tamper(body: bytes, indent: int | None) -> tuple[int, bytes]:
        data = json.loads(body)
        change(data)
        compact = {"separators": (",", ":")} if indent is None else {"indent": indent}
        return status, json.dumps(data, ensure_ascii=False, **compact).encode()

    return tamper


def _first_slot(data: dict) -> dict:
    return next(slot for day in data["days"] for slot in day["slots"])


def _set_slot(**values) -> Callable[[dict], None]:
    return lambda data: _first_slot(data).update(values)


def _later(text: str, days: int) -> str:
    return (datetime.fromisoformat(text) + timedelta(days=days)).isoformat()


def _move_first_slot(data: dict) -> None:
    slot = _first_slot(data)
    slot["start"], slot["end"] = _later(slot["start"], 10), _later(slot["end"], 10)


def _end_before_start(data: dict) -> None:
    slot = _first_slot(data)
    slot["end"] = _later(slot["start"], -1)


def _day_twice(data: dict) -> None:
    data["days"][1]["date"] = data["days"][0]["date"]


def _first_day_elsewhere(data: dict) -> None:
    data["days"][0]["date"] = "2026-04-02"


SLOT0 = r"days\[\d\]\.slots\[0\]"
CASES: dict[str, tuple[Tamper, str]] = {
    "malformed JSON": (
        _raw(lambda b: b'{"organization_id": "o_demo", "days": [}'),
        "the body is not JSON",
    ),
    "truncated": (_raw(lambda b: b[: len(b) // 2]), "the body is not JSON"),
    "empty": (_raw(lambda b: b""), "the body is not JSON"),
    "a JSON array": (_raw(lambda b: b"[" + b + b"]"), "the body is not a JSON object"),
    "null": (_raw(lambda b: b"null"), "the body is not a JSON object"),
    "capacity 10**30": (
        _edit(_set_slot(capacity=10**30)),
        rf"{SLOT0}\.capacity is 10{{30}}, not a whole",
    ),
    "capacity 20,000": (
        _edit(_set_slot(capacity=20_000)),
        rf"{SLOT0}\.capacity is 20000, not 0\.\.10000",
    ),
    "available -5": (
        _edit(_set_slot(available=-5)),
        rf"{SLOT0}\.available is -5, not 0\.\.capacity \d",
    ),
    "available above capacity": (
        _edit(_set_slot(capacity=2, available=3)),
        rf"{SLOT0}\.available is 3, not 0\.\.capacity 2",
    ),
    "a count that is text": (
        _edit(_set_slot(available="2")),
        rf"{SLOT0}\.available is '2', not a whole",
    ),
    "unknown time zone": (
        _edit(lambda d: d.update(timezone="Mars/Olympus")),
        "timezone is 'Mars/Olympus', not an IANA time zone",
    ),
    "another service": (
        _edit(lambda d: d.update(service_id="s_eyebrow")),
        r"service_id is 's_eyebrow', not the one asked for \(s_facial\)",
    ),
    "another location": (
        _edit(lambda d: d.update(location_id="l_munich")),
        r"location_id is 'l_munich', not the one asked for \(l_berlin\)",
    ),
    "another organization": (
        _edit(lambda d: d.update(organization_id="o_other")),
        r"organization_id is 'o_other', not the organization's \(o_demo\)",
    ),
    "another start date": (
        _edit(lambda d: d.update(start_date="2026-03-24")),
        r"start_date is '2026-03-24', not the one asked for \(2026-03-23\)",
    ),
    "another day count": (
        _edit(lambda d: d.update(days_ahead=4)),
        r"days_ahead is 4, not the one asked for \(3\)",
    ),
    "a day missing": (
        _edit(lambda d: d["days"].pop()),
        "days has 2 entries, not the 3 days asked for",
    ),
    "a day outside the window": (
        _edit(_first_day_elsewhere),
        r"days\[0\]\.date is 2026-04-02, outside the window asked for \(2026-03-23 to 2026-03-25\)",
    ),
    "a day twice": (_edit(_day_twice), r"days\[0\]\.date is 2026-03-23, a date listed twice"),
    "a day without a date": (
        _edit(lambda d: d["days"][2].pop("date")),
        r"days\[2\]\.date is missing",
    ),
    "a slot ending before it starts": (
        _edit(_end_before_start),
        rf"{SLOT0}\.end is '.*', not after start",
    ),
    "a slot outside the window": (
        _edit(_move_first_slot),
        rf"{SLOT0}\.start is '.*', on 2026-04-0\d in the location's zone, outside the window",
    ),
    "a slot without an offset": (
        _edit(_set_slot(start="2026-03-23T15:00:00")),
        rf"{SLOT0}\.start is '2026-03-23T15:00:00', not an ISO-8601 instant with an offset",
    ),
    "a null slot": (
        _edit(lambda d: next(day for day in d["days"] if day["slots"])["slots"].insert(0, None)),
        rf"{SLOT0}\.start is missing",
    ),
    "generated_at that is no instant": (
        _edit(lambda d: d.update(generated_at="yesterday")),
        "generated_at is 'yesterday', not an ISO-8601 instant with an offset",
    ),
    "slot_duration_minutes 0": (
        _edit(lambda d: d.update(slot_duration_minutes=0)),
        r"slot_duration_minutes is 0, not 1\.\.1440 minutes",
    ),
}
STATUS_CASES = {"status 299": 299, "status 202": 202, "status 206": 206}
PATHS = {"fast": None, "exact": 1}  # indent of every body: None keeps the sandbox's compact JSON


@pytest.fixture(scope="module")
def clean(sandbox):
    """The same fetch with nothing changed, on each path."""
    return {path: _fetch(sandbox, Tampering(indent=indent)) for path, indent in PATHS.items()}


def _without_target(frame: pd.DataFrame) -> pd.DataFrame:
    target = (frame.service_id == TARGET[0]) & (frame.location_id == TARGET[1])
    return frame[~target].drop(columns="snapshot_id").reset_index(drop=True)


def _assert_the_rest_is_intact(snap, clean_snap):
    assert snap.meta["fetched_at"] == clean_snap.meta["fetched_at"]
    for table in ("slots", "days"):
        got = getattr(snap, table)
        assert not ((got.service_id == TARGET[0]) & (got.location_id == TARGET[1])).any()
        pd.testing.assert_frame_equal(
            got.drop(columns="snapshot_id"), _without_target(getattr(clean_snap, table))
        )


def _spy_on_the_exact_path(monkeypatch) -> list[int]:
    """Sizes of the batches the exact path reads."""
    sizes: list[int] = []
    read_slow = wire_module._read_slow

    def spy(payloads):
        sizes.append(len(payloads))
        return read_slow(payloads)

    monkeypatch.setattr(wire_module, "_read_slow", spy)
    return sizes


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES)
def test_a_bad_body_is_one_error_row_and_the_rest_completes(
    sandbox, clean, monkeypatch, case, path
):
    tamper, says = CASES[case]
    transport = Tampering(tamper, indent=PATHS[path])
    exact_batches = _spy_on_the_exact_path(monkeypatch)
    snap = _fetch(sandbox, transport)
    (request_id,) = transport.tampered
    assert len(snap.errors) == 1 and not snap.complete
    error = snap.errors.iloc[0]
    assert (error.service_id, error.location_id, error.error_class) == (
        *TARGET,
        "ResponseFormatError",
    )
    assert re.search(says, error.message), error.message
    assert error.request_id == request_id and request_id in error.message
    assert pd.isna(error.status_code)
    _assert_the_rest_is_intact(snap, clean[path])
    if path == "fast":  # the good bodies stayed on the fast path: only a few went exact
        assert max(exact_batches, default=0) <= wire_module._MIN_HALVED
    else:  # every body went the exact path
        assert sum(exact_batches) == snap.meta["counts"]["calls"]


# every case on the fast path; on the exact path (the same raise) one of each kind
STRICT = [(case, "fast") for case in CASES] + [
    (case, "exact") for case in ("truncated", "capacity 10**30", "available -5", "another service")
]


@pytest.mark.parametrize(("case", "path"), STRICT)
def test_strict_raises_the_bad_bodys_error(sandbox, case, path):
    tamper, says = CASES[case]
    transport = Tampering(tamper, indent=PATHS[path])
    with pytest.raises(ResponseFormatError, match=says) as caught:
        _fetch(sandbox, transport, strict=True)
    assert caught.value.request_id == transport.tampered[0]
    assert caught.value.endpoint == "GET /availability"


@pytest.mark.parametrize("case", STATUS_CASES)
def test_a_success_status_outside_the_contract_is_one_error_row(sandbox, clean, case):
    status = STATUS_CASES[case]
    transport = Tampering(_raw(lambda body: body, status))
    snap = _fetch(sandbox, transport)
    (error,) = snap.errors.itertuples()
    assert (error.service_id, error.location_id, error.error_class) == (*TARGET, "APIStatusError")
    assert error.status_code == status and error.request_id == transport.tampered[0]
    assert "not a success status of the API (200, 201, 204)" in error.message
    _assert_the_rest_is_intact(snap, clean["fast"])
    with pytest.raises(APIStatusError, match=f"^{status}"):
        _fetch(sandbox, Tampering(_raw(lambda body: body, status)), strict=True)


@pytest.mark.parametrize("case", ["available -5", "another service", "truncated"])
def test_both_api_shapes_keep_failures_local(sandbox, make_sandbox, case):
    """Full slots listed (available 0) or omitted, the bad body costs only its own rows."""
    omitting = make_sandbox(omit_full_slots=True, **UNLIMITED)
    for sb in (sandbox, omitting):
        snap = _fetch(sb, Tampering(CASES[case][0]))
        _assert_the_rest_is_intact(snap, _fetch(sb, Tampering()))
        assert len(snap.errors) == 1 and re.search(CASES[case][1], snap.errors.message[0])
    assert not (snap.slots.available == 0).any()  # the second run was the omitting shape


# -- windows: a span over 60 days is several calls per service and location ----------------------


def _is_second_window(params: httpx.QueryParams) -> bool:
    return "start_date" in params  # the first window asks for the server's today


def _rows(frame: pd.DataFrame, service_id: str, before: date | None = None) -> pd.DataFrame:
    keep = frame.service_id == service_id
    if before is not None:
        keep &= frame.local_date < pd.Timestamp(before)
    return frame[keep].drop(columns="snapshot_id").reset_index(drop=True)


def test_a_bad_second_window_costs_only_its_own_rows(sandbox):
    options = {"services": ["s_facial", "s_eyebrow"], "days_ahead": 62, "start_date": None}
    clean = _fetch(sandbox, Tampering(), **options)  # two windows: 60 days, then 2 more
    transport = Tampering(_edit(_set_slot(available=-5)), when=_is_second_window)
    snap = _fetch(sandbox, transport, **options)
    assert snap.errors.request_id.tolist() == transport.tampered and len(transport.tampered) == 1
    assert snap.errors.message[0].endswith(f"(request_id {transport.tampered[0]})")
    for table in ("slots", "days"):
        got, want = getattr(snap, table), getattr(clean, table)
        pd.testing.assert_frame_equal(_rows(got, "s_eyebrow"), _rows(want, "s_eyebrow"))
        first_window = _rows(want, "s_facial", before=START + timedelta(60))
        pd.testing.assert_frame_equal(_rows(got, "s_facial"), first_window)
    assert len(_rows(snap.days, "s_facial")) == 60


def test_a_first_window_without_a_start_date_is_one_error(sandbox):
    """The later windows continue from the first one's start_date: without it, one error."""
    options = {"services": ["s_facial", "s_eyebrow"], "days_ahead": 62, "start_date": None}
    transport = Tampering(_raw(lambda body: b""), when=lambda params: not _is_second_window(params))
    snap = _fetch(sandbox, transport, **options)
    (error,) = snap.errors.itertuples()
    assert (error.service_id, error.error_class) == ("s_facial", "ResponseFormatError")
    assert "the body is not JSON" in error.message and error.request_id == transport.tampered[0]
    assert set(snap.days.service_id) == {"s_eyebrow"} and len(snap.days) == 62
