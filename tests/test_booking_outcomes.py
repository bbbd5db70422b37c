"""Booking outcomes are never ambiguous: each failure says whether an appointment may exist.

Against the sandbox with injected faults: 5xx before processing, and responses dropped after
the server did the work (the case that used to make ghost bookings). The invariant, flow by
flow: the server booked it if and only if the client reported success, unless the error says
``may_have_taken_effect``; and no hold is left behind by a flow that failed.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import NOW, UNLIMITED

from zimun_analytics import ZimunClient
from zimun_analytics._errors import (
    APIConnectionError,
    APIError,
    HoldAlreadyConfirmedError,
    HoldExpiredError,
    ResponseFormatError,
    ServerError,
    UnreadableAnswerError,
)
from zimun_analytics.client._transport import AiohttpTransport

CONTACT = {"contact_name": "Dana Lee", "contact_email": "dana@example.com"}


def _free_starts(zimun: ZimunClient, service_id: str, count: int) -> list[datetime]:
    soon = datetime.now(UTC) + timedelta(hours=1)  # real clock: no slot starts while we book
    days = zimun.availability(service_id, days_ahead=14)
    return [slot.start for slot in days.free_slots() if slot.start > soon][:count]


def _live_holds(sandbox) -> list[str]:
    now = sandbox.state.clock.now()
    holds = sandbox.state.engine.holds.values()
    return [h.hold_id for h in holds if h.status == "held" and h.expires_at > now]


@pytest.mark.slow
def test_book_under_faults_reports_every_booking_truly_and_leaves_no_hold(make_sandbox):
    sb = make_sandbox(seed=11, fault_rate=0.3, token_ttl=2, now=None, **UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url, max_retries=8) as steady:
        starts = _free_starts(steady, "s_eyebrow", 40)
    reported: dict[str, str | APIError] = {}  # contact email -> appointment id or the error
    # few retries, so that failures happen and their outcomes are tested
    with ZimunClient("demo", "demo-secret", sb.base_url, max_retries=1) as zimun:
        for n, start in enumerate(starts):
            email = f"flow{n}@example.com"
            try:
                reported[email] = zimun.book("s_eyebrow", start, "Dana Lee", email).appointment_id
            except APIError as error:
                reported[email] = error
    booked = {m["to"]: m["appointment_id"] for m in sb.outbox() if m["kind"] == "confirmed"}
    failed = {email: e for email, e in reported.items() if isinstance(e, APIError)}
    assert failed, "no flow failed: the faults tested nothing"
    for email, outcome in reported.items():
        if isinstance(outcome, str):
            assert booked.get(email) == outcome  # a success is a booking, made once
        elif not outcome.may_have_taken_effect:
            assert email not in booked, f"{email} was booked, yet told {outcome}"
            assert "No appointment was made" in str(outcome)
        else:
            assert outcome.idempotency_key and "idempotency_key=" in str(outcome)
    assert len(booked) == len(set(booked.values())) <= len(starts)  # no double bookings
    unknown = [e for e in failed.values() if e.may_have_taken_effect]
    assert len(_live_holds(sb)) <= len(unknown)  # a hold is left only where the error says so
    assert len(unknown) <= 2, [str(e) for e in unknown]  # the release settles nearly all


def test_a_lost_confirm_answer_is_replayed_by_its_key(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        (start,) = _free_starts_frozen(zimun)
        hold = zimun.hold("s_eyebrow", start)
        first = zimun.confirm(hold, **CONTACT, idempotency_key="za-resume-1")
        again = zimun.confirm(hold, **CONTACT, idempotency_key="za-resume-1")
        with pytest.raises(HoldAlreadyConfirmedError) as caught:
            zimun.confirm(hold, **CONTACT)  # another key: a second booking is refused
    assert again.appointment_id == first.appointment_id
    assert caught.value.may_have_taken_effect
    assert "The hold is an appointment already" in str(caught.value)
    assert len([m for m in sb.outbox() if m["kind"] == "confirmed"]) == 1


def test_a_refused_confirm_says_no_appointment_was_made(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        (start,) = _free_starts_frozen(zimun)
        hold = zimun.hold("s_eyebrow", start)
        assert zimun.release(hold.hold_id)
        with pytest.raises(HoldExpiredError) as caught:
            zimun.confirm(hold, **CONTACT)
    error = caught.value
    assert not error.may_have_taken_effect
    assert error.idempotency_key and error.idempotency_key.startswith("za-")
    assert str(error).endswith("No appointment was made.")


def test_a_confirm_cut_off_after_the_server_booked_says_it_may_exist(misbehaving):
    # the token works, the confirm is read and never answered: it may well have been booked
    server = misbehaving({"/oauth/token": "token"})
    with ZimunClient("id", "secret", server.base_url, timeout=0.5, max_retries=1) as zimun:
        with pytest.raises(APIConnectionError) as caught:
            zimun.confirm("h_1", **CONTACT)
    error = caught.value
    assert error.may_have_taken_effect
    assert server.seen.count("POST /api/v1/appointments/confirm") == 2  # one key, both tries
    assert f"idempotency_key={error.idempotency_key!r}" in str(error)
    assert "The appointment may have been made" in str(error)


def test_a_confirm_that_never_reached_the_server_made_nothing():
    with socket.socket() as sock:  # a port just freed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with ZimunClient("id", "secret", url, timeout=0.5, max_retries=1) as zimun:
        with pytest.raises(APIConnectionError) as caught:
            zimun.confirm("h_1", **CONTACT)
    assert not caught.value.may_have_taken_effect  # the token request never connected


def test_book_returns_the_appointment_when_only_its_answer_was_lost(make_sandbox):
    # every fault here is a dropped answer after the work was done: book() must still come
    # back with the appointment, booked once
    sb = make_sandbox(seed=3, fault_rate=0.5, **UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url, max_retries=8) as steady:
        starts = _free_starts_frozen(steady, 10)
    made = []
    with ZimunClient("demo", "demo-secret", sb.base_url, max_retries=2) as zimun:
        for n, start in enumerate(starts):
            try:
                made.append(zimun.book("s_eyebrow", start, "Dana Lee", f"b{n}@example.com"))
            except (ServerError, APIConnectionError) as error:
                assert error.may_have_taken_effect or "No appointment was made" in str(error)
    booked = [m for m in sb.outbox() if m["kind"] == "confirmed"]
    assert {a.appointment_id for a in made} <= {m["appointment_id"] for m in booked}
    assert len({m["to"] for m in booked}) == len(booked)  # nobody booked twice


def _free_starts_frozen(zimun: ZimunClient, count: int = 1) -> list[datetime]:
    after = datetime.fromisoformat(NOW) + timedelta(hours=1)
    days = zimun.availability("s_eyebrow", days_ahead=14)
    return [slot.start for slot in days.free_slots() if slot.start > after][:count]


class _Unreadable(httpx.AsyncBaseTransport):
    """The server does the work; the answer reaching the client is not JSON."""

    def __init__(self, path: str) -> None:
        self.inner, self.path = AiohttpTransport(), path

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith(self.path):
            return response
        await response.aread()
        return httpx.Response(response.status_code, content=b"<html>oops</html>")

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("path", ["/appointments/hold", "/appointments/confirm"])
def test_a_success_that_cannot_be_read_says_it_took_effect(make_sandbox, path):
    sb = make_sandbox(**UNLIMITED)
    with ZimunClient("demo", "demo-secret", sb.base_url) as steady:
        (start,) = _free_starts_frozen(steady)
        held = steady.hold("s_eyebrow", start) if path.endswith("confirm") else None
    client = ZimunClient("demo", "demo-secret", sb.base_url, transport=_Unreadable(path))
    with client, pytest.raises(UnreadableAnswerError) as caught:
        if held is None:
            client.hold("s_eyebrow", start)
        else:
            client.confirm(held, **CONTACT)
    error = caught.value
    assert isinstance(error, APIError) and error.may_have_taken_effect
    assert error.idempotency_key and f"idempotency_key={error.idempotency_key!r}" in str(error)
    assert isinstance(error.__cause__, ResponseFormatError)
