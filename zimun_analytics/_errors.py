"""Every exception zimun-analytics raises, in one tree with one root.

::

    ZimunError
     ├── ConfigError                  missing credentials, bad base URL (names the env var)
     ├── InputError (also ValueError) a bad argument, caught before the network
     ├── ResponseFormatError          a response lacks a required field or has it malformed
     ├── SnapshotError                the snapshot store: unknown id, damaged root, lock held
     └── APIError                     anything the service or the network did
          ├── UnreadableAnswerError   a POST/PATCH answered success unreadably: it took effect
          ├── APIConnectionError      could not reach the service / connection dropped
          │    └── APITimeoutError
          └── APIStatusError          a status other than 200, 201 or 204 (a 202 or 299 too)
               ├── BadRequestError (400)
               │    └── LocationRequiredError           location_required
               ├── AuthenticationError (401; and OAuth token-endpoint errors such as invalid_client)
               ├── PermissionDeniedError (403)
               ├── NotFoundError (404)
               ├── ConflictError (409)
               │    ├── SlotUnavailableError            slot_unavailable
               │    ├── HoldAlreadyConfirmedError       hold_already_confirmed
               │    └── InvalidStateError               invalid_state
               ├── HoldExpiredError (410)
               ├── ValidationError (422)
               │    └── IdempotencyKeyReusedError       idempotency_key_reused
               ├── RateLimitError (429)                 carries retry_after_s
               └── ServerError (5xx)

and one warning: ``DamagedSnapshotWarning`` (a UserWarning), when a store's reader leaves out a
snapshot whose manifest or file is damaged (``strict=True`` raises SnapshotError instead).

`SUCCESS_STATUSES` are the statuses the contract answers a success with (200, 201, 204); any
other, in the 2xx range too, is an error, and its body is never read as a result.
`make_status_error` is the one place that turns a response into a class: the error code picks
the class first, then the status; a 2xx outside `SUCCESS_STATUSES` is a plain `APIStatusError`.
Constructors take plain values, never httpx objects, so this module imports nothing but the
standard library. Nothing here ever formats request headers or request bodies: ``str(error)``
holds the status, the code, the server's message, a hint saying what to do, the method and URL,
and the request id.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from datetime import timezone
from http import HTTPStatus
from typing import Any, ClassVar

SUCCESS_STATUSES = frozenset({200, 201, 204})  # the contract's successes; any other is an error
_SCOPES = "org:read, availability:read, appointments:read, appointments:write"
_CREDENTIALS_HINT = "check ZIMUN_CLIENT_ID / ZIMUN_CLIENT_SECRET"


def _restore(cls: type[ZimunError], args: tuple[Any, ...], state: dict[str, Any]) -> ZimunError:
    """Rebuild a pickled error without calling its keyword-only constructor."""
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ZimunError(Exception):
    """Root of every error zimun-analytics raises; catch this at the edges."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors defeat Exception's default pickling (multiprocessing, joblib).
        return (_restore, (type(self), self.args, self.__dict__.copy()))


class ConfigError(ZimunError):
    """Configuration is missing or invalid (credentials, base URL).

    Parameters
    ----------
    message : str
        What is wrong.
    env_var : str or None
        The environment variable that fixes it; named in the message.
    """

    def __init__(self, message: str, *, env_var: str | None = None) -> None:
        self.message = message
        self.env_var = env_var
        super().__init__(message)

    def __str__(self) -> str:
        if self.env_var and self.env_var not in self.message:
            return f"{self.message} — set the environment variable {self.env_var}"
        return self.message


class InputError(ZimunError, ValueError):
    """An argument is invalid; raised before anything is sent.

    Either one full message, ``InputError("days_ahead must be 1 to 60, got 90")``, or the
    parts, ``InputError("got 90", argument="days_ahead", allowed="an integer from 1 to 60")``.

    Parameters
    ----------
    problem : str
        What was wrong, or the whole message when ``argument`` is None.
    argument : str or None
        The argument's name.
    allowed : str or None
        What is allowed.
    """

    def __init__(
        self, problem: str, *, argument: str | None = None, allowed: str | None = None
    ) -> None:
        self.problem = problem
        self.argument = argument
        self.allowed = allowed
        super().__init__(problem)

    def __str__(self) -> str:
        text = f"invalid {self.argument}: {self.problem}" if self.argument else self.problem
        return f"{text}; allowed: {self.allowed}" if self.allowed else text


class ResponseFormatError(ZimunError):
    """A response lacks a required field or has it malformed.

    Parameters
    ----------
    problem : str
        What is wrong, e.g. ``"is missing"``; the whole message when ``endpoint`` is None.
    endpoint : str or None
        The endpoint that answered, e.g. ``"GET /api/v1/availability"``.
    field : str or None
        The field's path in the body, e.g. ``"days[3].slots[0].start"``.
    request_id : str or None
        The response's ``X-Request-Id``.
    """

    def __init__(
        self,
        problem: str,
        *,
        endpoint: str | None = None,
        field: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.problem = problem
        self.endpoint = endpoint
        self.field = field
        self.request_id = request_id
        super().__init__(problem)

    def __str__(self) -> str:
        text = self.problem
        if self.endpoint:
            text = (
                f"unexpected response from {self.endpoint}: {self.field or 'the body'} {text}"
                " — the service does not answer as this client expects; report the request id"
            )
        if self.request_id and self.request_id not in text:
            text = f"{text} (request_id {self.request_id})"
        return text


class SnapshotError(ZimunError):
    """The store cannot do what was asked: unknown id, damaged or foreign root, lock held."""


class DamagedSnapshotWarning(UserWarning):
    """A stored snapshot was left out because its manifest or one of its files is damaged.

    The message names the snapshot (or the manifest file) and what is wrong; ``strict=True``
    on the store's readers raises a SnapshotError instead, and ``store.verify()`` lists every
    such problem.
    """


class APIError(ZimunError):
    """Anything the service or the network did.

    Parameters
    ----------
    message : str
        The server's message, or what went wrong on the way.
    method : str
        HTTP method of the request.
    url : str
        URL of the request.
    request_id : str or None
        The response's ``X-Request-Id``, if a response arrived.

    Attributes
    ----------
    idempotency_key : str or None
        The ``Idempotency-Key`` every attempt of a POST or PATCH carried (None for other
        methods): passed back to the same call (``hold``, ``confirm``), it resumes the call
        without doing it twice, and returns what the first attempt did if it took effect.
    may_have_taken_effect : bool
        Whether the server may have carried the call out although no success came back: an
        attempt reached it and its answer was lost (a dropped connection, a timeout, a 5xx), or
        the answer says it was done already (``hold_already_confirmed``). False when no
        attempt can have changed anything (it was refused, or never reached the server).
    """

    _hint: ClassVar[str] = ""

    def __init__(
        self, message: str, *, method: str, url: str, request_id: str | None = None
    ) -> None:
        self.message = message
        self.method = method
        self.url = url
        self.request_id = request_id
        self.idempotency_key: str | None = None
        self.may_have_taken_effect = False
        self.outcome = ""  # what a booking call's failure means for the booking, said in str()
        super().__init__(message)

    @property
    def hint(self) -> str:
        """What the user can do about this error ("" when there is nothing specific)."""
        return self._hint

    def _headline(self) -> str:
        return self.message

    def __str__(self) -> str:
        text = self._headline()
        if self.hint:
            text = f"{text} — {self.hint}"
        where = f"{self.method} {self.url}"
        if self.request_id:
            where = f"{where}, request_id {self.request_id}"
        outcome = f" {self.outcome}" if self.outcome else ""
        return f"{text} ({where}){outcome}"


class UnreadableAnswerError(APIError):
    """A POST or PATCH was answered with success, but the answer cannot be read.

    The service did what was asked (a hold placed, an appointment made), so
    ``may_have_taken_effect`` is true; ``__cause__`` is the ResponseFormatError naming the
    field at fault.
    """

    _hint = "the service did it, but its answer is malformed: look it up before trying again"


class APIConnectionError(APIError):
    """The service could not be reached, or the connection dropped."""

    _hint = "could not reach the service (retried already): check the network and the base URL"

    def __init__(
        self,
        message: str = "connection error",
        *,
        method: str,
        url: str,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, request_id=request_id)


class APITimeoutError(APIConnectionError):
    """The service did not answer in time."""

    _hint = "the service did not answer in time (retried already): try again later"

    def __init__(
        self,
        message: str = "request timed out",
        *,
        method: str,
        url: str,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, request_id=request_id)


class APIStatusError(APIError):
    """The service answered with a status other than the contract's successes (200, 201, 204).

    A 2xx outside them (202, 206, 299, ...) is one too: the contract never sends it, so its
    body is not trusted as a result.

    Parameters
    ----------
    message : str
        The server's message (envelope ``error.message`` or OAuth ``error_description``).
    status_code : int
        HTTP status.
    method, url, request_id
        As for `APIError`.
    code : str or None
        The envelope's ``error.code``, or the OAuth ``error`` of the token endpoint.
    details : list of dict
        ``[{"field": ..., "message": ...}]`` for validation errors, else ``[]``.
    body : object
        The decoded JSON body, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        url: str,
        request_id: str | None = None,
        code: str | None = None,
        details: list[dict[str, str]] | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message, method=method, url=url, request_id=request_id)
        self.status_code = status_code
        self.code = code
        self.details = list(details or [])
        self.body = body

    @property
    def hint(self) -> str:
        """What the user can do: chosen by the error code, else by the class."""
        return _CODE_HINTS.get(self.code or "", self._hint)

    def _headline(self) -> str:
        code = f" {self.code}" if self.code else ""
        return f"{self.status_code}{code}: {self.message}"


class BadRequestError(APIStatusError):
    """400: the request was malformed (a query parameter, header or body)."""

    _hint = "fix the request: see the message for the parameter at fault"


class LocationRequiredError(BadRequestError):
    """400 ``location_required``: the service is offered at several locations."""

    _hint = "pass location_id; the service is offered at several locations"


class AuthenticationError(APIStatusError):
    """401, or any OAuth error of the token endpoint (``code`` holds e.g. ``invalid_client``)."""

    _hint = _CREDENTIALS_HINT


class PermissionDeniedError(APIStatusError):
    """403: the token lacks a scope."""

    _hint = f"the token lacks a scope: request the needed one among {_SCOPES}"


class NotFoundError(APIStatusError):
    """404: unknown id, or an id of another organization."""

    _hint = "check the id; ids of other organizations are not visible"


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state."""

    _hint = "the state changed: fetch it again and retry with fresh data"


class SlotUnavailableError(ConflictError):
    """409 ``slot_unavailable``: the slot is no longer free."""

    _hint = "the slot was just taken: fetch availability and pick another slot"


class HoldAlreadyConfirmedError(ConflictError):
    """409 ``hold_already_confirmed``: the hold is already an appointment."""

    _hint = "the hold is already an appointment: fetch the appointment instead of confirming again"


class InvalidStateError(ConflictError):
    """409 ``invalid_state``: e.g. rescheduling a cancelled appointment."""

    _hint = "the appointment's status does not allow this change: fetch it and check its status"


class HoldExpiredError(APIStatusError):
    """410: the hold expired or was released before it was confirmed."""

    _hint = "hold expired after 10 minutes (or was released): hold the slot again"


class ValidationError(APIStatusError):
    """422: fields of the request body are invalid; ``details`` names them."""

    _hint = "fix the request's fields"

    @property
    def hint(self) -> str:
        """Name the fields the server rejected."""
        fields = [d["field"] for d in self.details if d.get("field")]
        if self.code in _CODE_HINTS or not fields:
            return super().hint
        return f"fix these fields: {', '.join(fields)}"


class IdempotencyKeyReusedError(ValidationError):
    """422 ``idempotency_key_reused``: the same Idempotency-Key came with a different body."""

    _hint = "an Idempotency-Key was reused with a different body: use a new key per new request"


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after_s`` says how long to wait (None if unknown).

    Parameters
    ----------
    retry_after_s : float or None
        Seconds from the ``Retry-After`` header.
    **kwargs
        As for `APIStatusError`.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s

    @property
    def hint(self) -> str:
        """Say how long to wait."""
        if self.retry_after_s is None:
            return "slow down; retry in a little while"
        return f"slow down; retry after {self.retry_after_s:g} s"


class ServerError(APIStatusError):
    """5xx: the service failed."""

    _hint = "the service failed; retried already, try again later"


# Codes whose hint differs from their class's default.
_CODE_HINTS: dict[str, str] = {
    "invalid_client": _CREDENTIALS_HINT,
    "invalid_token": f"the access token was missing, expired or rejected: {_CREDENTIALS_HINT}",
    "invalid_scope": f"request only scopes among {_SCOPES}",
    "unsupported_grant_type": "the token request must use grant_type=client_credentials",
    "insufficient_scope": f"the token lacks a scope: request the needed one among {_SCOPES}",
}

_CODE_CLASSES: dict[str, type[APIStatusError]] = {
    "invalid_request": BadRequestError,
    "location_required": LocationRequiredError,
    "invalid_token": AuthenticationError,
    "invalid_client": AuthenticationError,
    "insufficient_scope": PermissionDeniedError,
    "not_found": NotFoundError,
    "slot_unavailable": SlotUnavailableError,
    "hold_already_confirmed": HoldAlreadyConfirmedError,
    "invalid_state": InvalidStateError,
    "hold_expired": HoldExpiredError,
    "validation_error": ValidationError,
    "idempotency_key_reused": IdempotencyKeyReusedError,
    "rate_limited": RateLimitError,
    "internal": ServerError,
}

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: HoldExpiredError,
    422: ValidationError,
    429: RateLimitError,
}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _details(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list):
        return []
    return [
        {"field": str(item.get("field", "")), "message": str(item.get("message", ""))}
        for item in value
        if isinstance(item, Mapping)
    ]


def _read_body(body: object) -> tuple[str | None, str | None, str | None, list[dict[str, str]]]:
    """Return (code, message, request_id, details) of an envelope or OAuth body, else Nones."""
    if not isinstance(body, Mapping):
        return None, None, None, []
    error = body.get("error")
    if isinstance(error, Mapping):  # the API envelope
        code, message = _text(error.get("code")), _text(error.get("message"))
        return code, message, _text(error.get("request_id")), _details(error.get("details"))
    if isinstance(error, str):  # RFC 6749 §5.2, the token endpoint
        return _text(error), _text(body.get("error_description")), None, []
    return None, None, None, []


def _is_oauth_body(body: object) -> bool:
    return isinstance(body, Mapping) and isinstance(body.get("error"), str)


def parse_retry_after(
    headers: Mapping[str, str] | None, wall_now: float | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110).

    None when absent or garbage. A date is measured from ``wall_now`` (the present Unix
    time, ``time.time()`` by default); one already past means 0.
    """
    value = next(
        (v for k, v in (headers or {}).items() if k.lower() == "retry-after"),
        None,
    )
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=timezone.utc)  # noqa: UP017 (a name UTC would look public)
        now = time.time() if wall_now is None else wall_now
        seconds = max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _pick_class(status_code: int, code: str | None, body: object) -> type[APIStatusError]:
    if _is_oauth_body(body) and 400 <= status_code < 500 and status_code != 429:
        return AuthenticationError  # token-endpoint failures, whatever their OAuth code
    if code in _CODE_CLASSES:
        return _CODE_CLASSES[code]
    if status_code in _STATUS_CLASSES:
        return _STATUS_CLASSES[status_code]
    return ServerError if status_code >= 500 else APIStatusError


def _fallback_message(status_code: int) -> str:
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = f"unexpected HTTP status {status_code}"
    if 200 <= status_code < 300:  # a success the contract never sends: say why it is an error
        allowed = ", ".join(map(str, sorted(SUCCESS_STATUSES)))
        return f"{phrase}, not a success status of the API ({allowed}); the body was not used"
    return phrase


def make_status_error(
    status_code: int,
    body: object,
    *,
    method: str,
    url: str,
    request_id: str | None,
    headers: Mapping[str, str] | None = None,
) -> APIStatusError:
    """Build the exception for a response whose status is not in `SUCCESS_STATUSES`.

    The error code picks the class first, then the status; anything else at or above 500 is a
    `ServerError`, the rest (a 2xx outside `SUCCESS_STATUSES` too) a plain `APIStatusError`.
    An OAuth body (``{"error": "..."}``) with a 4xx status (other than 429) is an
    `AuthenticationError` carrying the OAuth code.

    Parameters
    ----------
    status_code : int
        HTTP status of the response.
    body : object
        The decoded JSON body; None (or anything else) when the body was not JSON.
    method : str
        HTTP method of the request.
    url : str
        URL of the request.
    request_id : str or None
        The ``X-Request-Id`` header; falls back to the envelope's ``request_id``.
    headers : Mapping[str, str] or None
        Response headers; only ``Retry-After`` is read.

    Returns
    -------
    APIStatusError
        An instance of the most specific subclass; never raises.
    """
    code, message, body_request_id, details = _read_body(body)
    cls = _pick_class(status_code, code, body)
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "method": method,
        "url": url,
        "request_id": request_id or body_request_id,
        "code": code,
        "details": details,
        "body": body,
    }
    if issubclass(cls, RateLimitError):
        kwargs["retry_after_s"] = parse_retry_after(headers)
    return cls(message or _fallback_message(status_code), **kwargs)
