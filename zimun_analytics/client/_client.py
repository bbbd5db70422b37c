"""The Zimun API client, async: the one implementation of every endpoint call.

:class:`AsyncZimunClient` does the work: auth (:mod:`._auth`), one retry loop, a shared rate
limiter and typed errors (:mod:`._retries`, :mod:`.._errors`), typed records
(:mod:`.._models`). :class:`~zimun_analytics.ZimunClient` (in :mod:`._sync_client`) runs
this same code on a private event loop in a background thread, for scripts and notebook cells.
"""

from __future__ import annotations

import http.cookiejar
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

import anyio
import httpx

from .._config import (
    CALL_DEADLINE_S,
    DEFAULT_DAYS_AHEAD,
    DEFAULT_PAGE_SIZE,
    HOLD_TTL,
    MAX_CONNECTIONS,
    MAX_DAYS_AHEAD,
    MAX_RETRIES,
    MIN_TRANSFER_RATE_BPS,
    resolve_settings,
)
from .._errors import (
    SUCCESS_STATUSES,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    HoldAlreadyConfirmedError,
    InputError,
    InvalidStateError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    UnreadableAnswerError,
    make_status_error,
)
from .._models import (
    Appointment,
    Availability,
    Hold,
    Location,
    Organization,
    Service,
    check_days,
    check_email,
    check_start_date,
)
from .._version import __version__
from ._auth import TOKEN_PATH, ClientCredentialsAuth
from ._pacing import RateLimiter
from ._retries import is_retryable_status, jitter, retry_delay
from ._timeouts import SlowBodyTimeout, minimum_rate_hook, request_timeout
from ._transport import AiohttpTransport

log = logging.getLogger("zimun_analytics")
ListedT = TypeVar("ListedT", Location, Service)  # records of the paginated list endpoints
WrittenT = TypeVar("WrittenT", Hold, Appointment)  # records the booking calls answer with
API = "/api/v1"


# -- input checks: stop bad arguments before the network ---------------------------------------


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be a non-empty string id, got {value!r}")
    return value


def _check_instant(name: str, value: object) -> str:
    if not isinstance(value, datetime):
        raise InputError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            f"{name} is a naive datetime ({value.isoformat()}); give it a time "
            "zone, e.g. datetime(..., tzinfo=ZoneInfo('Europe/Berlin')) or a slot's "
            "start from availability()"
        )
    return value.isoformat()


def _availability_params(
    service_id: str, days_ahead: int, location_id: str | None, start_date: date | None
) -> dict[str, Any]:
    """The query of GET /availability, each argument checked before the network."""
    params: dict[str, Any] = {
        "service_id": _check_id("service_id", service_id),
        "days_ahead": check_days(
            days_ahead, MAX_DAYS_AHEAD, "; for longer spans call again with start_date"
        ),
    }
    if location_id is not None:
        params["location_id"] = _check_id("location_id", location_id)
    first_day = check_start_date(start_date)
    if first_day is not None:
        params["start_date"] = first_day.isoformat()
    return params


def _confirm_body(
    hold: object,
    contact_name: object,
    contact_email: object,
    contact_phone: str | None,
    notes: str | None,
) -> dict[str, Any]:
    """The body of POST /appointments/confirm, each field checked before the network."""
    hold_id = hold.hold_id if isinstance(hold, Hold) else hold
    body = {
        "hold_id": _check_id("hold_id", hold_id),
        "contact_name": _check_id("contact_name", contact_name),
        "contact_email": check_email(contact_email),
    }
    body.update({k: v for k, v in [("contact_phone", contact_phone), ("notes", notes)] if v})
    return body


def new_idempotency_key() -> str:
    """A fresh ``Idempotency-Key``: one per logical call, the same on each of its retries."""
    return f"za-{uuid.uuid4()}"


def _check_deadline(call_deadline: object) -> float:
    if (
        isinstance(call_deadline, bool)
        or not isinstance(call_deadline, int | float)
        or not call_deadline > 0
    ):
        raise InputError(
            f"call_deadline must be a positive number of seconds, got {call_deadline!r}"
        )
    return float(call_deadline)


def _failed_request(exc: httpx.RequestError, method: str, path: str) -> str:
    """``METHOD /path`` of the request that failed: the call's own, or its token request."""
    try:
        request = exc.request
    except RuntimeError:  # not every transport error knows its request
        return f"{method} {path}"
    return f"{request.method} {request.url.path}"


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: the API authenticates by bearer token and sets no cookies.

    httpx builds a urllib request and an email message for every response just to look for
    ``Set-Cookie``, a tenth of the client's CPU per call (``benchmarks/bench_throughput.py``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.jar = _RefusingJar()

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class _RefusingJar(http.cookiejar.CookieJar):
    """Where ``client.cookies.set(...)`` would have stored a cookie for every later request."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        raise TypeError("the Zimun client keeps no cookies")


class _CookielessClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose ``cookies`` stay empty (see :class:`_NoCookies`)."""

    @property
    def cookies(self) -> httpx.Cookies:
        return self.__dict__.setdefault("_no_cookies", _NoCookies())  # type: ignore[no-any-return]

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("the Zimun client keeps no cookies")


@dataclass
class _Progress:
    """What a call has been through, for the message when its deadline ends it."""

    attempts: int = 0
    last_error: APIError | None = None
    sending: bool = False  # an attempt is out: cut off now, it may still have been carried out
    may_have_arrived: bool = False  # an attempt reached the server and its answer was lost
    failed_headers: Mapping[str, str] = field(default_factory=dict)  # for Retry-After


class AsyncZimunClient:
    """Async client for the Zimun API (and the sandbox).

    Parameters
    ----------
    client_id, client_secret, base_url
        Default to ``ZIMUN_CLIENT_ID``, ``ZIMUN_CLIENT_SECRET`` and ``ZIMUN_BASE_URL``
        (``https://api.zimun.online``).
    timeout
        Limits of each request attempt, token requests included: ``None`` for the defaults of
        :mod:`~zimun_analytics._config` (connect 10 s, read, write and pool 30 s each), seconds
        for all four phases, or an ``httpx.Timeout`` limiting every phase. A response body must
        also keep up an average of ``MIN_TRANSFER_RATE_BPS`` after a first read timeout.
    call_deadline
        Seconds one call may take in all: every attempt, backoff wait, ``Retry-After`` wait,
        rate-limit wait and token fetch. A call that would wait past it fails at once with
        the error it has; one still running at the deadline raises ``APITimeoutError``.
    max_retries
        Retries after the first attempt, for connection errors, timeouts, 408, 429 and 5xx.
    transport
        Any ``httpx.AsyncBaseTransport`` (``httpx.MockTransport`` in tests, proxies, ...);
        by default an :class:`~zimun_analytics.client._transport.AiohttpTransport`.
    max_connections
        Connections open at once by the default transport; more calls in flight wait for one.
        ``max_connections`` is ``None`` with a caller's ``transport`` (whose own limits hold).
    scope
        Space-separated scopes to ask for; default all the client may have.
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        call_deadline: float = CALL_DEADLINE_S,
        max_retries: int = MAX_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = MAX_CONNECTIONS,
        scope: str | None = None,
    ) -> None:
        settings = resolve_settings(client_id, client_secret, base_url)
        self.base_url = settings.base_url
        self.client_id = settings.client_id
        self.max_retries = max_retries
        self.timeout = request_timeout(timeout)
        self.call_deadline = _check_deadline(call_deadline)
        self.auth = ClientCredentialsAuth(
            self.base_url + TOKEN_PATH,
            settings.client_id,
            settings.client_secret,
            scope,
            timeout=self.timeout,
        )
        self.limiter = RateLimiter()
        self.max_connections: int | None = max_connections if transport is None else None
        if transport is None:
            # httpx's own pool costs ~1 ms of CPU a request at a few dozen in flight, aiohttp's
            # a tenth of that: see client/_transport.py and benchmarks/bench_throughput.py
            transport = AiohttpTransport(max_connections=max_connections)
        assert self.timeout.read is not None  # request_timeout limits every phase
        slow_body = minimum_rate_hook(self.timeout.read, MIN_TRANSFER_RATE_BPS)
        self._http = _CookielessClient(
            base_url=self.base_url,
            auth=self.auth,
            timeout=self.timeout,
            transport=transport,
            event_hooks={"response": [slow_body]},
            headers={"User-Agent": f"zimun-analytics/{__version__}"},
        )
        self._organization_id: str | None = None

    def __repr__(self) -> str:
        return f"AsyncZimunClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    async def __aenter__(self) -> AsyncZimunClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the connections."""
        await self._http.aclose()

    # -- the one request loop --------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        raw: bool = False,
        idempotency_key: str | None = None,
    ) -> tuple[Any, str | None]:
        """Send with retries; return the decoded JSON (None for 204) and the request id.

        With ``raw`` the body comes back as bytes, undecoded (bulk readers parse it in Arrow).
        All of it happens within ``call_deadline``: at the deadline the call is cancelled and
        raises ``APITimeoutError``. A wait that would outlast it, or a sooner deadline of the
        caller's (a fetch's), is not begun: the call raises the error it has instead.

        A POST or PATCH carries one ``Idempotency-Key`` on every attempt (``idempotency_key``,
        else a new one); an error it raises names that key and whether the call may have
        taken effect (:class:`~zimun_analytics._errors.APIError`).
        """
        key = None
        if method in {"POST", "PATCH"}:
            # one key per logical call, reused on every attempt: a retried confirm whose first
            # response was lost is replayed by the server, never booked twice
            key = idempotency_key or new_idempotency_key()
        progress = _Progress()
        try:
            with anyio.move_on_after(self.call_deadline):
                return await self._send_with_retries(method, path, params, body, raw, key, progress)
            last = f"; last: {progress.last_error.message}" if progress.last_error else ""
            progress.may_have_arrived |= progress.sending
            raise APITimeoutError(
                f"{method} {path} did not finish within its {self.call_deadline:g} s deadline "
                f"({progress.attempts} attempt{'s' if progress.attempts != 1 else ''}{last})",
                method=method,
                url=self.base_url + path,
                request_id=progress.last_error.request_id if progress.last_error else None,
            )
        except APIError as error:
            error.idempotency_key = key
            error.may_have_taken_effect = key is not None and progress.may_have_arrived
            raise

    async def _send_with_retries(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        raw: bool,
        idempotency_key: str | None,
        progress: _Progress,
    ) -> tuple[Any, str | None]:
        """The retry loop of :meth:`_request`, which puts the deadline around it."""
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        url = self.base_url + path
        target = httpx.URL(url, params=params)  # parsed once: not by httpx on every attempt
        retries_taken = 0
        while True:
            ticket = await self.limiter.acquire()
            started = time.perf_counter()
            progress.attempts += 1
            try:
                response = await self._attempt(
                    method, path, url, target, body, headers, ticket, progress
                )
            except APIError as error:
                progress.last_error = failure = error
                if not self._should_retry(error, retries_taken):
                    raise
            else:
                if raw:
                    return response.content, response.headers.get("x-request-id")
                return self._decode(response, method, path)
            delay = retry_delay(retries_taken, progress.failed_headers, self._jitter())
            if isinstance(failure, RateLimitError):
                self.limiter.block_for(delay)
            log.debug(
                "%s %s failed after %.0f ms (%s, request_id %s); retry %d in %.2f s",
                method,
                path,
                (time.perf_counter() - started) * 1000,
                type(failure).__name__,
                failure.request_id,
                retries_taken + 1,
                delay,
            )
            if anyio.current_time() + delay >= anyio.current_effective_deadline():
                raise failure  # the wait would outlast the deadline: fail now, with the real cause
            await self._sleep(delay)
            retries_taken += 1

    async def _attempt(
        self,
        method: str,
        path: str,
        url: str,
        target: httpx.URL,
        body: dict[str, Any] | None,
        headers: dict[str, str],
        ticket: int,
        progress: _Progress,
    ) -> httpx.Response:
        """One attempt: its response if it succeeded; else it raises the APIError it met.

        A status error leaves the response's headers in ``progress.failed_headers``, for
        the wait its ``Retry-After`` asks.
        """
        progress.sending, progress.failed_headers = True, {}
        try:
            response = await self._http.request(method, target, json=body, headers=headers)
        except httpx.DecodingError as exc:  # the answer came, its gzip or charset broken
            progress.sending = False
            progress.may_have_arrived = True
            raise APIConnectionError(
                f"{method} {path}: the response could not be decoded ({exc})",
                method=method,
                url=url,
                request_id=None,
            ) from None
        except httpx.TransportError as exc:
            progress.sending = False
            failed = _failed_request(exc, method, path)
            # sent, and the answer lost: the server may have done it (a connection never made,
            # or a token request that failed, sent nothing of this call)
            progress.may_have_arrived |= failed == f"{method} {path}" and not isinstance(
                exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
            )
            raise self._transport_error(exc, method, path, url, failed) from None
        except APIStatusError:  # the token endpoint failed inside the auth flow
            progress.sending = False
            raise
        progress.sending = False
        self.limiter.observe(ticket, response.status_code, response.headers)
        request_id = response.headers.get("x-request-id")
        log.debug("%s %s -> %d (request_id %s)", method, path, response.status_code, request_id)
        if response.status_code in SUCCESS_STATUSES:  # not is_success: a 299 is no success
            return response
        progress.may_have_arrived |= response.status_code >= 500  # done, then failed to answer?
        try:
            decoded = response.json()
        except ValueError:
            decoded = None
        progress.failed_headers = response.headers
        raise make_status_error(
            response.status_code,
            decoded,
            method=method,
            url=url,
            request_id=request_id,
            headers=response.headers,
        )

    @staticmethod
    def _transport_error(
        exc: httpx.TransportError, method: str, path: str, url: str, failed: str
    ) -> APIError:
        if isinstance(exc, httpx.TimeoutException):
            during = "" if failed == f"{method} {path}" else f", fetching a token for {path}"
            reason = str(exc) if isinstance(exc, SlowBodyTimeout) else type(exc).__name__
            return APITimeoutError(
                f"{failed} timed out ({reason}{during})",
                method=method,
                url=url,
                request_id=None,
            )
        return APIConnectionError(
            f"{method} {path}: connection failed ({type(exc).__name__})",
            method=method,
            url=url,
            request_id=None,
        )

    def _should_retry(self, error: APIError, retries_taken: int) -> bool:
        if retries_taken >= self.max_retries:
            return False
        if isinstance(error, APIStatusError):
            return is_retryable_status(error.status_code)
        return isinstance(error, APIConnectionError)

    async def _write(
        self,
        method: str,
        path: str,
        record: type[WrittenT],
        body: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        endpoint: str | None = None,
    ) -> WrittenT:
        """A POST or PATCH of ``path`` (under ``/api/v1``), its answer read as ``record``.

        A success whose answer cannot be read (not JSON, or not a ``record``) took effect all
        the same: it is raised as :class:`~zimun_analytics._errors.UnreadableAnswerError`.
        """
        key = idempotency_key or new_idempotency_key()
        try:
            data, request_id = await self._request(
                method, API + path, body=body, idempotency_key=key
            )
            return record.from_json(
                data, endpoint=endpoint or f"{method} {path}", request_id=request_id
            )
        except ResponseFormatError as cause:
            error = UnreadableAnswerError(
                f"{method} {path} succeeded, but its answer cannot be read: "
                f"{cause.field or 'the body'} {cause.problem}",
                method=method,
                url=self.base_url + API + path,
                request_id=cause.request_id,
            )
            error.idempotency_key, error.may_have_taken_effect = key, True
            raise error from cause

    @staticmethod
    def _decode(response: httpx.Response, method: str, path: str) -> tuple[Any, str | None]:
        request_id = response.headers.get("x-request-id")
        if response.status_code == 204 or not response.content:
            return None, request_id
        try:
            return response.json(), request_id
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise ResponseFormatError(
                f"{method} {path}: the response is not JSON (request_id {request_id})"
            ) from None

    # kept apart so tests can pin randomness and skip real waiting
    _jitter = staticmethod(jitter)

    async def _sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)

    # -- catalogue -------------------------------------------------------------------------

    async def organization(self) -> Organization:
        """The organization the credentials belong to."""
        data, request_id = await self._request("GET", f"{API}/organization")
        org = Organization.from_json(data, endpoint="GET /organization", request_id=request_id)
        self._organization_id = org.organization_id
        return org

    async def _paginate(self, kind: str, record: type[ListedT]) -> AsyncGenerator[ListedT, None]:
        """Every item of a list endpoint as records, one page fetched at a time as you iterate."""
        endpoint = f"GET /{kind}"
        params: dict[str, Any] = {"page_size": DEFAULT_PAGE_SIZE}
        while True:
            data, request_id = await self._request("GET", f"{API}/{kind}", params=params)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise ResponseFormatError(
                    f"{endpoint}: field 'items' is missing or not a list (request_id {request_id})"
                )
            token = data.get("next_page_token") or None
            if token is not None and not isinstance(token, str):
                raise ResponseFormatError(
                    f"{endpoint}: next_page_token is {token!r}, not a string "
                    f"(request_id {request_id})"
                )
            for item in data["items"]:
                yield record.from_json(item, endpoint=endpoint, request_id=request_id)
            if token is None:
                return
            params["page_token"] = token

    async def locations(self) -> list[Location]:
        """Every location of the organization (all pages)."""
        return [location async for location in self._paginate("locations", Location)]

    async def services(self) -> AsyncGenerator[Service, None]:
        """Every service, fetched page by page as you iterate."""
        async for service in self._paginate("services", Service):
            yield service

    async def availability(
        self,
        service_id: str,
        days_ahead: int = DEFAULT_DAYS_AHEAD,
        location_id: str | None = None,
        start_date: date | None = None,
    ) -> Availability:
        """Slots of one service at one location for ``days_ahead`` days (1-60)."""
        params = _availability_params(service_id, days_ahead, location_id, start_date)
        data, request_id = await self._request("GET", f"{API}/availability", params=params)
        asked = {
            "service_id": service_id,
            "location_id": location_id,
            "start_date": start_date,
            "days_ahead": days_ahead,
            "organization_id": self._organization_id,
        }
        return Availability.from_response(data, asked, request_id=request_id)

    async def availability_body(
        self,
        service_id: str,
        days_ahead: int = DEFAULT_DAYS_AHEAD,
        location_id: str | None = None,
        start_date: date | None = None,
    ) -> tuple[bytes, str | None]:
        """The availability response body as bytes, undecoded, and its request id.

        For bulk tables: :mod:`zimun_analytics.fetch._wire` parses many bodies at once in Arrow,
        which is faster and several times smaller than Python dicts of the same JSON.
        """
        params = _availability_params(service_id, days_ahead, location_id, start_date)
        content, request_id = await self._request(
            "GET", f"{API}/availability", params=params, raw=True
        )
        return cast(bytes, content), request_id  # httpx's content is bytes: no copy

    # -- booking ---------------------------------------------------------------------------

    async def _duration_of(self, service_id: str) -> int:
        """The catalogue's duration of a service: pages through ``services()`` until found."""
        async with aclosing(self.services()) as services:
            async for service in services:
                if service.service_id == service_id:
                    return service.duration_minutes
        raise InputError(f"service {service_id!r} is not in this organization's catalogue")

    async def hold(
        self,
        service_id: str,
        appointment_time: datetime,
        duration: int | None = None,
        location_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Hold:
        """Hold a slot for 10 minutes; confirm it with :meth:`confirm` before it expires.

        ``duration`` defaults to the service's catalogue duration, looked up on each call (a
        walk through ``GET /services``): pass it when you have the service at hand. The
        organization id is asked once per client (``GET /organization``) and kept, as it is
        the credentials' own.

        An error whose ``may_have_taken_effect`` is true may have left a hold on the slot: the
        same call with the error's ``idempotency_key`` returns that hold, to confirm or release
        (:meth:`book` does all of it).
        """
        body: dict[str, Any] = {
            "service_id": _check_id("service_id", service_id),
            "appointment_time": _check_instant("appointment_time", appointment_time),
        }
        if location_id is not None:
            body["location_id"] = _check_id("location_id", location_id)
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0
        ):
            raise InputError(f"duration must be a positive number of minutes, got {duration!r}")
        body["appointment_duration"] = duration or await self._duration_of(service_id)
        body["organization_id"] = (
            self._organization_id or (await self.organization()).organization_id
        )
        try:
            return await self._write(
                "POST", "/appointments/hold", Hold, body, idempotency_key=idempotency_key
            )
        except APIError as error:
            if error.may_have_taken_effect:
                minutes = HOLD_TTL.total_seconds() / 60
                error.outcome = (
                    f"A hold may have been placed, keeping the slot for up to {minutes:g} minutes: "
                    f"hold(...) again with idempotency_key={error.idempotency_key!r} "
                    "returns it, to confirm or release."
                )
            raise

    async def release(self, hold_id: str) -> bool:
        """Give a held slot back; False if the service cannot (the hold then simply expires)."""
        path = f"{API}/appointments/hold/{_check_id('hold_id', hold_id)}"
        try:
            await self._request("DELETE", path)
        except APIStatusError as error:
            if isinstance(error, NotFoundError) or error.status_code == 405:
                return False
            raise
        return True

    async def confirm(
        self,
        hold: Hold | str,
        contact_name: str,
        contact_email: str,
        contact_phone: str | None = None,
        notes: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Appointment:
        """Turn a hold (a :class:`Hold` or its id) into an appointment; the customer is emailed.

        Every attempt carries one ``Idempotency-Key``, so retries never book twice. When it
        still fails, the error says what became of the booking (``str(error)`` too):

        - ``may_have_taken_effect`` false: no appointment was made;
        - true: it may have been (the answer was lost). ``confirm`` again with the same
          arguments and the error's ``idempotency_key`` returns the appointment if it was
          made, and fails with no booking if not; also after the hold expired, since the
          server keeps its answer to a key for 24 hours. Do not book again before;
        - :class:`~zimun_analytics._errors.HoldAlreadyConfirmedError`: the hold is an appointment
          already (an earlier confirm under another key).
        """
        body = _confirm_body(hold, contact_name, contact_email, contact_phone, notes)
        try:
            return await self._write(
                "POST", "/appointments/confirm", Appointment, body, idempotency_key=idempotency_key
            )
        except HoldAlreadyConfirmedError as error:
            error.may_have_taken_effect = True
            error.outcome = "The hold is an appointment already: look it up, do not book again."
            raise
        except APIError as error:
            error.outcome = (
                "The appointment may have been made: confirm(...) again with "
                f"idempotency_key={error.idempotency_key!r} returns it if it was, and fails "
                "if it was not; do not book again before."
                if error.may_have_taken_effect
                else "No appointment was made."
            )
            raise

    async def book(
        self,
        service_id: str,
        appointment_time: datetime,
        contact_name: str,
        contact_email: str,
        contact_phone: str | None = None,
        notes: str | None = None,
        *,
        location_id: str | None = None,
        duration: int | None = None,
    ) -> Appointment:
        """Hold a slot and confirm it, in one call whose failure leaves nothing unknown.

        The contact is checked before anything is held. A hold whose answer was lost is fetched
        by its idempotency key and used (a second hold() with the same key). When the confirm
        fails, the hold is
        released, and the answer to the release settles what the confirm left unknown: a hold
        that is an appointment already cannot be released (``invalid_state``), and the
        appointment is then fetched by resuming the confirm with its idempotency key. So
        ``book`` returns the appointment whenever one was made, and an error means none was,
        unless the server could not be reached to find out: then ``may_have_taken_effect`` is
        true and the error says how to resume (see :meth:`confirm`).
        """
        contact = (contact_name, contact_email, contact_phone, notes)
        _confirm_body("h_check", *contact)
        hold_key = new_idempotency_key()
        for attempt in range(2):
            try:
                held = await self.hold(
                    service_id, appointment_time, duration, location_id, idempotency_key=hold_key
                )
                break
            except APIError as error:
                if not error.may_have_taken_effect:
                    error.outcome = "No appointment was made."  # nor a hold
                    raise
                if attempt:
                    raise
                # a hold may be out there, blocking the slot: its key fetches it (or places it)
        key = new_idempotency_key()
        try:
            return await self.confirm(held, *contact, idempotency_key=key)
        except HoldAlreadyConfirmedError:
            raise
        except APIError as error:
            outcome = await self._give_up_hold(held.hold_id)
            if outcome == "booked":  # the lost answer was a booking: fetch it by its key
                return await self.confirm(held, *contact, idempotency_key=key)
            if outcome == "released":
                error.may_have_taken_effect = False
                error.outcome = "No appointment was made; the hold was released."
            raise
        except BaseException:  # cancelled (Ctrl-C, a deadline): give the slot back if unbooked
            if await self._give_up_hold(held.hold_id) == "booked":
                log.warning(
                    "book() was cancelled after hold %s became an appointment; confirm it again "
                    "with idempotency_key=%r to get the appointment",
                    held.hold_id,
                    key,
                )
            raise

    async def _give_up_hold(self, hold_id: str) -> str:
        """Release a hold whose confirm failed; say what became of it.

        "released", "booked" (it is an appointment already), or "unknown" (the release failed
        too; the hold expires by itself).
        """
        with anyio.CancelScope(shield=True):  # also when the caller is being cancelled
            try:
                released = await self.release(hold_id)
            except InvalidStateError:
                return "booked"
            except APIError as error:
                log.warning("could not release hold %s after a failed confirm: %s", hold_id, error)
                return "unknown"
        return "released" if released else "unknown"

    async def appointment(self, appointment_id: str) -> Appointment:
        """One appointment by id."""
        path = f"{API}/appointments/{_check_id('appointment_id', appointment_id)}"
        data, request_id = await self._request("GET", path)
        return Appointment.from_json(data, endpoint="GET /appointments/{id}", request_id=request_id)

    async def _patch(self, appointment_id: str, body: dict[str, Any]) -> Appointment:
        path = f"/appointments/{_check_id('appointment_id', appointment_id)}"
        return await self._write(
            "PATCH", path, Appointment, body, endpoint="PATCH /appointments/{id}"
        )

    async def reschedule(self, appointment_id: str, appointment_time: datetime) -> Appointment:
        """Move an appointment to another free slot; the customer is emailed."""
        when = _check_instant("appointment_time", appointment_time)
        return await self._patch(appointment_id, {"appointment_time": when})

    async def cancel(self, appointment_id: str) -> Appointment:
        """Cancel an appointment (cancelling twice is harmless); the customer is emailed."""
        return await self._patch(appointment_id, {"status": "cancelled"})
