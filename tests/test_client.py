"""ZimunClient against real sandboxes over loopback, and MockTransport for exact fault sequences."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

import anyio
import httpx
import pytest
from conftest import NOW, UNLIMITED

from zimun_analytics import ZimunClient
from zimun_analytics._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    HoldAlreadyConfirmedError,
    HoldExpiredError,
    InputError,
    InvalidStateError,
    LocationRequiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    SlotUnavailableError,
    ValidationError,
    ZimunError,
)
from zimun_analytics.client import AsyncZimunClient

CONTACT = {"contact_name": "Dana Lee", "contact_email": "dana@example.com"}


@pytest.fixture
def client(sandbox):
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as zimun:
        yield zimun


def _free_slot(client, service_id="s_eyebrow", location_id=None, skip=0):
    availability = client.availability(service_id, days_ahead=14, location_id=location_id)
    return list(availability.free_slots())[skip]


# -- settings ----------------------------------------------------------------------------------


def test_missing_credentials_name_the_variables():
    with pytest.raises(ConfigError, match="ZIMUN_CLIENT_ID and ZIMUN_CLIENT_SECRET"):
        ZimunClient()


def test_credentials_come_from_the_environment(monkeypatch, sandbox):
    monkeypatch.setenv("ZIMUN_CLIENT_ID", "demo")
    monkeypatch.setenv("ZIMUN_CLIENT_SECRET", "demo-secret")
    monkeypatch.setenv("ZIMUN_BASE_URL", sandbox.base_url)
    with ZimunClient() as zimun:
        assert zimun.organization().organization_id == "o_demo"


@pytest.mark.parametrize("url", ["http://api.zimun.online", "ftp://x", "not a url"])
def test_unsafe_or_malformed_base_url_is_refused(url):
    with pytest.raises(ConfigError):
        ZimunClient("demo", "demo-secret", url)


# -- endpoints ---------------------------------------------------------------------------------


def test_organization_and_locations_are_typed_records(client):
    assert client.organization().timezone == "Europe/Berlin"
    locations = {loc.location_id: loc for loc in client.locations()}
    assert locations["l_newyork"].timezone == "America/New_York"
    assert locations["l_berlin"].subdivision == "DE-BE"


def test_services_are_paged_lazily_to_the_end(make_sandbox):
    sb = make_sandbox(services=2000, **UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        services = zimun.services()
        first = next(services)
        assert first.service_id == "s_quick_trim"
        ids = [first.service_id, *(s.service_id for s in services)]
    assert len(ids) == len(set(ids)) == 2000


def test_availability_has_tz_aware_slots_in_the_location_offset(client):
    availability = client.availability("s_haircut", days_ahead=7, location_id="l_newyork")
    slot = next(availability.free_slots())
    assert slot.start.utcoffset() == timedelta(hours=-4)  # EDT in late March
    assert availability.start_date == date(2026, 3, 23)
    assert len(availability.days) == 7


def test_whole_booking_flow(client, sandbox):
    first, second = _free_slot(client), _free_slot(client, skip=1)
    hold = client.hold("s_eyebrow", first.start)
    assert hold.appointment_time == first.start
    assert hold.expires_at - sandbox.now() == timedelta(minutes=10)
    appointment = client.confirm(hold.hold_id, **CONTACT)
    assert appointment.status == "confirmed"
    moved = client.reschedule(appointment.appointment_id, second.start)
    assert moved.appointment_time == second.start
    assert client.cancel(appointment.appointment_id).status == "cancelled"
    assert client.appointment(appointment.appointment_id).status == "cancelled"
    kinds = [m["kind"] for m in sandbox.outbox() if m["appointment_id"] == moved.appointment_id]
    assert kinds == ["confirmed", "rescheduled", "cancelled"]


def test_release_frees_the_slot(client):
    slot = _free_slot(client, skip=2)
    hold = client.hold("s_eyebrow", slot.start)
    assert client.release(hold.hold_id) is True
    again = client.hold("s_eyebrow", slot.start)  # free again
    assert again.hold_id != hold.hold_id
    client.release(again.hold_id)


@pytest.mark.parametrize("status", [404, 405])
def test_release_without_such_endpoint_reports_false(status):
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(status, json={"error": {"code": "not_found", "message": "no"}})

    with ZimunClient("id", "secret", "https://x.test", transport=httpx.MockTransport(handler)) as c:
        assert c.release("h_1") is False


# -- errors from the service --------------------------------------------------------------------


def test_unknown_service_is_not_found(client):
    with pytest.raises(NotFoundError) as caught:
        client.availability("s_nope")
    assert caught.value.status_code == 404 and caught.value.request_id.startswith("req_")


def test_multi_location_service_needs_location(client):
    with pytest.raises(LocationRequiredError, match="location_id"):
        client.availability("s_haircut")


def test_far_start_date_is_a_bad_request(client):
    with pytest.raises(BadRequestError):
        client.availability("s_eyebrow", start_date=date(2030, 1, 1))


def test_readonly_client_may_not_hold(sandbox, client):
    slot = _free_slot(client, skip=3)
    with ZimunClient("readonly", "readonly-secret", sandbox.base_url) as readonly:
        with pytest.raises(PermissionDeniedError):
            readonly.hold("s_eyebrow", slot.start, duration=15)


def test_wrong_secret_is_an_authentication_error_with_the_oauth_code(sandbox):
    with ZimunClient("demo", "wrong-secret", sandbox.base_url) as zimun:
        with pytest.raises(AuthenticationError) as caught:
            zimun.organization()
    assert caught.value.code == "invalid_client"
    assert "ZIMUN_CLIENT_SECRET" in str(caught.value)


def test_taken_slot_is_unavailable(client):
    slot = next(s for s in client.availability("s_eyebrow", 14).free_slots() if s.capacity == 1)
    hold = client.hold("s_eyebrow", slot.start)
    with pytest.raises(SlotUnavailableError):
        client.hold("s_eyebrow", slot.start)
    client.release(hold.hold_id)


def test_off_grid_time_is_a_validation_error(client):
    slot = _free_slot(client, skip=4)
    with pytest.raises(ValidationError):
        client.hold("s_eyebrow", slot.start + timedelta(minutes=7))


def test_confirm_twice_and_reschedule_cancelled(client):
    hold = client.hold("s_eyebrow", _free_slot(client, skip=5).start)
    appointment = client.confirm(hold.hold_id, **CONTACT)
    with pytest.raises(HoldAlreadyConfirmedError):
        client.confirm(hold.hold_id, **CONTACT)
    client.cancel(appointment.appointment_id)
    with pytest.raises(InvalidStateError):
        client.reschedule(appointment.appointment_id, _free_slot(client, skip=6).start)


def test_expired_hold_says_hold_again(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        hold = zimun.hold("s_eyebrow", _free_slot(zimun).start)
        sb.advance(601)
        with pytest.raises(HoldExpiredError, match="hold the slot again"):
            zimun.confirm(hold.hold_id, **CONTACT)


def test_rate_limit_error_when_retries_are_exhausted(make_sandbox):
    sb = make_sandbox(rate_limit=0.01, rate_burst=1, token_rate_limit=1000)
    with ZimunClient("demo", "demo-secret", sb.base_url) as first:
        first.organization()  # spends the bucket of the demo client
    # a second process with the same credentials has not seen the headers yet
    with ZimunClient("demo", "demo-secret", sb.base_url, max_retries=0) as second:
        with pytest.raises(RateLimitError) as caught:
            second.organization()
    assert caught.value.retry_after_s >= 1


def test_server_faults_surface_after_retries(make_sandbox):
    sb = make_sandbox(fault_rate=1.0, **UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url, max_retries=0) as zimun:
        with pytest.raises((ServerError, APIConnectionError)):
            zimun.organization()


def test_slow_service_times_out_with_a_timeout_error(make_sandbox):
    sb = make_sandbox(latency_ms=400, latency_jitter_ms=0, **UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url, timeout=0.05, max_retries=0) as zimun:
        with pytest.raises(APITimeoutError) as caught:
            zimun.organization()
    assert isinstance(caught.value, APIConnectionError)
    assert "timed out" in str(caught.value)


def test_expired_token_is_refreshed_once_on_401(make_sandbox):
    sb = make_sandbox(token_ttl=100, **UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        zimun.organization()
        sb.advance(200)  # the server's clock passes expiry; the client's does not know
        assert zimun.organization().organization_id == "o_demo"
        assert zimun.async_client.auth.tokens_fetched == 2


# -- bad input never reaches the network ------------------------------------------------------


def _no_network(request):
    raise AssertionError(f"bad input reached the network: {request.method} {request.url}")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.availability(""), "service_id"),
        (lambda c: c.availability("s_1", days_ahead=0), "between 1 and 60"),
        (lambda c: c.availability("s_1", days_ahead=61), "start_date"),
        (lambda c: c.availability("s_1", start_date="2026-01-01"), "datetime.date"),
        (lambda c: c.hold("s_1", datetime(2026, 3, 24, 10)), "naive"),
        (lambda c: c.hold("s_1", "2026-03-24T10:00:00Z"), "datetime"),
        (lambda c: c.confirm("h_1", "Dana", "not-an-email"), "contact_email"),
        (lambda c: c.confirm("", "Dana", "dana@example.com"), "hold_id"),
        (lambda c: c.cancel("  "), "appointment_id"),
    ],
)
def test_bad_input_is_refused_before_the_network(call, message):
    transport = httpx.MockTransport(_no_network)
    with ZimunClient("id", "secret", "https://x.test", transport=transport) as zimun:
        with pytest.raises(InputError, match=message) as caught:
            call(zimun)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ZimunError)


# -- tolerance -----------------------------------------------------------------------------------


def _serving(payload):
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json=payload, headers={"X-Request-Id": "req_tolerance"})

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b"[" * 100_000 + b"]" * 100_000])
def test_a_body_that_cannot_be_decoded_is_one_clear_error(body):
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, content=body, headers={"X-Request-Id": "req_garbled"})

    with ZimunClient("id", "secret", "https://x.test", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(ResponseFormatError, match="not JSON.*req_garbled"):
            c.organization()


AVAILABILITY = {
    "organization_id": "o_1",
    "service_id": "s_1",
    "location_id": "l_1",
    "timezone": "Europe/Berlin",
    "start_date": "2026-03-23",
    "days_ahead": 1,
    "days": [
        {
            "date": "2026-03-23",
            "status": "open",
            "future_field": [1],
            "slots": [{"start": "2026-03-23T10:00:00+01:00"}],
        }
    ],
}


def test_unknown_fields_are_ignored_and_missing_optional_fields_degrade():
    with ZimunClient("id", "secret", "https://x.test", transport=_serving(AVAILABILITY)) as c:
        availability = c.availability("s_1", days_ahead=1)
    slot = availability.days[0].slots[0]
    assert slot.capacity is None and slot.available is None and slot.end is None
    assert availability.holidays == ()


def test_missing_required_field_names_endpoint_field_and_request_id():
    broken = {
        **AVAILABILITY,
        "days": [{"date": "2026-03-23", "status": "open", "slots": [{"capacity": 1}]}],
    }
    with ZimunClient("id", "secret", "https://x.test", transport=_serving(broken)) as c:
        with pytest.raises(ResponseFormatError) as caught:
            c.availability("s_1", days_ahead=1)
    text = str(caught.value)
    assert "availability" in text and "start" in text and "req_tolerance" in text


@pytest.mark.parametrize("status", [202, 203, 206, 299])
def test_a_success_status_outside_the_contract_is_an_error_and_not_retried(status):
    """The contract answers 200, 201 or 204: a 299's body is not read as an organization."""
    sent = []

    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        sent.append(request.url.path)
        body = {"organization_id": "o_1", "name": "Looks fine"}
        return httpx.Response(status, json=body, headers={"X-Request-Id": "req_odd"})

    with ZimunClient("id", "secret", "https://x.test", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(APIStatusError) as caught:
            c.organization()
    error = caught.value
    assert type(error) is APIStatusError and error.status_code == status and len(sent) == 1
    assert "not a success status of the API (200, 201, 204)" in str(error)
    assert error.request_id == "req_odd"


@pytest.mark.parametrize("status", [200, 201])
def test_the_contracts_success_statuses_are_read(status):
    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(status, json={"organization_id": "o_1", "name": "Fine"})

    with ZimunClient("id", "secret", "https://x.test", transport=httpx.MockTransport(handler)) as c:
        assert c.organization().organization_id == "o_1"


# -- concurrency, retries and idempotency --------------------------------------------------------


class CountingTransport(httpx.AsyncHTTPTransport):
    """A real transport that counts what it sends, per path."""

    def __init__(self):
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request):
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


def test_hundred_concurrent_calls_fetch_one_token(sandbox):
    transport = CountingTransport()

    async def main():
        async with AsyncZimunClient(
            "demo", "demo-secret", sandbox.base_url, transport=transport
        ) as zimun:
            async with anyio.create_task_group() as group:
                for _ in range(100):
                    group.start_soon(zimun.organization)

    anyio.run(main)
    assert transport.paths.count("/oauth/token") == 1
    assert transport.paths.count("/api/v1/organization") == 100


def test_retry_after_is_waited_out():
    answers = iter(
        [
            httpx.Response(
                429,
                headers={"Retry-After": "1"},
                json={"error": {"code": "rate_limited", "message": "slow"}},
            ),
            httpx.Response(
                200,
                json={"organization_id": "o_1", "name": "n", "timezone": "UTC", "country": "DE"},
            ),
        ]
    )

    def handler(request):
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return next(answers)

    waits = []

    class RecordingClient(AsyncZimunClient):
        async def _sleep(self, seconds):
            waits.append(seconds)

    async def main():
        async with RecordingClient(
            "id", "s", "https://x.test", transport=httpx.MockTransport(handler)
        ) as zimun:
            return await zimun.organization()

    assert anyio.run(main).organization_id == "o_1"
    assert waits == [1.0]


class DropFirstConfirm(httpx.AsyncHTTPTransport):
    """Lets the first confirm reach the server, then loses its response."""

    def __init__(self):
        super().__init__()
        self.keys: list[str] = []

    async def handle_async_request(self, request):
        response = await super().handle_async_request(request)
        if request.url.path.endswith("/confirm"):
            self.keys.append(request.headers["Idempotency-Key"])
            if len(self.keys) == 1:
                await response.aread()
                raise httpx.ReadError("connection lost after the server processed it")
        return response


def test_confirm_whose_response_is_lost_books_once(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    transport = DropFirstConfirm()
    with ZimunClient("demo", "demo-secret", sb.base_url, transport=transport) as zimun:
        hold = zimun.hold("s_eyebrow", _free_slot(zimun).start)
        appointment = zimun.confirm(hold.hold_id, **CONTACT)
    assert len(transport.keys) == 2 and transport.keys[0] == transport.keys[1]
    confirmations = [m for m in sb.outbox() if m["kind"] == "confirmed"]
    assert [m["appointment_id"] for m in confirmations] == [appointment.appointment_id]


def test_everything_succeeds_through_faults_and_short_lived_tokens(make_sandbox):
    sb = make_sandbox(seed=7, fault_rate=0.2, token_ttl=2, now=None, **UNLIMITED)
    services = ["s_eyebrow", "s_facial", "s_physio"]

    async def book(zimun, service_id, slot):
        hold = await zimun.hold(service_id, slot.start)
        return await zimun.confirm(hold.hold_id, **CONTACT)

    async def main():
        async with AsyncZimunClient("demo", "demo-secret", sb.base_url, max_retries=10) as zimun:
            limit = anyio.Semaphore(16)

            async def one(n):
                async with limit:
                    return await zimun.availability(services[n % 3], days_ahead=14)

            results = [await one(n) for n in range(3)]
            async with anyio.create_task_group() as group:
                for n in range(297):
                    group.start_soon(one, n)
            # real clock here: leave an hour's margin so no slot starts while we book it
            soon = datetime.now(UTC) + timedelta(hours=1)
            free = [s for s in results[0].free_slots() if s.start > soon][:20]
            return [await book(zimun, "s_eyebrow", slot) for slot in free]

    appointments = anyio.run(main)
    assert len({a.appointment_id for a in appointments}) == 20
    assert len([m for m in sb.outbox() if m["kind"] == "confirmed"]) == 20


# -- secrets and notebooks -----------------------------------------------------------------------


def test_secret_and_token_never_show_in_logs_reprs_or_errors(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as zimun:
        zimun.organization()
        token = zimun.async_client.auth._token
        with pytest.raises(NotFoundError) as caught:
            zimun.appointment("a_missing")
        shown = " ".join(
            [
                caplog.text,
                repr(zimun),
                repr(zimun.async_client),
                repr(zimun.async_client.auth),
                str(caught.value),
                repr(caught.value),
            ]
        )
    assert token and token not in shown
    assert "demo-secret" not in shown
    assert "GET /api/v1/appointments/a_missing -> 404" in caplog.text


def test_sync_client_works_inside_a_running_event_loop(sandbox):
    async def notebook_cell():
        with ZimunClient("demo", "demo-secret", sandbox.base_url) as zimun:
            return zimun.organization().organization_id

    assert asyncio.run(notebook_cell()) == "o_demo"


def test_frozen_clock_fixture_is_the_one_we_assume(sandbox):
    assert sandbox.now() >= datetime.fromisoformat(NOW)


def test_a_script_that_forgets_close_still_exits():
    import subprocess
    import sys

    script = (
        "from zimun_analytics import ZimunClient\nZimunClient('id', 'secret', 'https://x.test')\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True)
    assert finished.returncode == 0, finished.stderr
