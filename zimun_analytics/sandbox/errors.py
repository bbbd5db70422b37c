"""The sandbox's one error type and the field checks that raise it.

Handlers raise :class:`ApiError`; the app renders it as the contract's envelope
``{"error": {"code", "message", "request_id", "details"?}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from .openapi_schemas import EMAIL_PATTERN, MAX_EMAIL_CHARS, NONBLANK_PATTERN, PHONE_PATTERN

__all__ = ["ApiError", "FieldChecker", "not_found"]

_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_NONBLANK = re.compile(NONBLANK_PATTERN)
MAX_NAME_CHARS = 200
MAX_NOTES_CHARS = 2000
MIN_YEAR, MAX_YEAR = 1970, 9000  # far from datetime's limits, so zone conversions cannot overflow

T = TypeVar("T")


class ApiError(Exception):
    """An error response: HTTP status, contract error code, message and optional details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers: Mapping[str, str] = headers or {}


def not_found(kind: str, identifier: str) -> ApiError:
    """404 for an unknown id or an id of another organization (never say which)."""
    return ApiError(404, "not_found", f"{kind} {identifier!r} not found")


class FieldChecker:
    """Collects every field problem of a JSON body, then raises one 422 listing them all."""

    def __init__(self, body: object) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request", "the request body must be a JSON object")
        self.body: dict[str, Any] = body
        self.details: list[dict[str, str]] = []

    def problem(self, field: str, message: str) -> None:
        """Record one problem with ``field``."""
        self.details.append({"field": field, "message": message})

    def text(self, field: str, *, required: bool = True, max_chars: int = 255) -> str | None:
        """A non-empty string field (or None when optional and absent)."""
        value = self.body.get(field)
        if value is None:
            if required:
                self.problem(field, "is required")
            return None
        if not isinstance(value, str) or not _NONBLANK.search(value):
            self.problem(field, "must be a non-empty string")
            return None
        if len(value) > max_chars:
            self.problem(field, f"must be at most {max_chars} characters")
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800"): valid JSON, no text
            self.problem(field, "must be text (it holds a lone UTF-16 surrogate)")
            return None
        return value

    def instant(self, field: str) -> datetime | None:
        """An ISO-8601 timestamp that carries a UTC offset."""
        value = self.text(field, max_chars=64)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except (ValueError, OverflowError):
            self.problem(field, "must be an ISO-8601 timestamp, e.g. 2025-12-01T10:00:00+01:00")
            return None
        if moment.tzinfo is None:
            self.problem(field, "must carry a UTC offset, e.g. 'Z' or '+01:00'")
            return None
        if not MIN_YEAR < moment.year < MAX_YEAR:
            self.problem(field, f"must lie between the years {MIN_YEAR} and {MAX_YEAR}")
            return None
        return moment

    def positive_int(self, field: str) -> int | None:
        """A whole number of minutes above zero."""
        value = self.body.get(field)
        if value is None:
            self.problem(field, "is required")
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 24 * 60:
            self.problem(field, "must be a whole number of minutes between 1 and 1440")
        else:
            return value
        return None

    def email(self, field: str) -> str | None:
        """An email address of plausible form."""
        value = self.text(field, max_chars=MAX_EMAIL_CHARS)
        if value is not None and not _EMAIL.match(value):
            self.problem(field, "must be an email address such as dana@example.com")
            return None
        return value

    def phone(self, field: str) -> str | None:
        """An optional phone number: digits, spaces and + ( ) . / -."""
        value = self.text(field, required=False, max_chars=32)
        if value is not None and not _PHONE.match(value):
            self.problem(field, "must be a phone number such as +49 30 1234567")
            return None
        return value

    def checked(self, field: str, value: T | None) -> T:
        """Return a required field's value once :meth:`raise_if_any` has passed (never None then).

        A caller that skipped :meth:`raise_if_any` still gets the field's 422, not a crash.
        """
        if value is None:
            self.problem(field, "is required")
            raise self._error()
        return value

    def raise_if_any(self) -> None:
        """Raise one 422 ``validation_error`` when any problem was recorded."""
        if self.details:
            raise self._error()

    def _error(self) -> ApiError:
        fields = ", ".join(d["field"] for d in self.details)
        return ApiError(422, "validation_error", f"invalid fields: {fields}", self.details)
