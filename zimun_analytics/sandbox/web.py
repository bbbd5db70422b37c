"""What every endpoint shares: JSON responses, the error envelope, bearer auth and query params.

Parsing helpers raise :class:`~.errors.ApiError` with the contract's 400 messages; the app turns
those into the error envelope via :func:`error_response`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError
from .ratelimit import Decision
from .state import SandboxState
from .stores import TokenGrant

__all__ = [
    "authorize",
    "error_response",
    "json_response",
    "optional_query_id",
    "paginate",
    "query_date",
    "query_id",
    "query_int",
    "rate_limited",
    "sandbox_state",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response (UTF-8, no ASCII escaping)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def rate_limited(decision: Decision, what: str) -> ApiError:
    """The 429 of a refused request, with its ``Retry-After`` (seconds or a date)."""
    return ApiError(
        429,
        "rate_limited",
        f"too many {what}; retry after {decision.retry_after_s} s",
        headers={"Retry-After": decision.retry_after()},
    )


def error_response(request: Request, error: ApiError) -> Response:
    """The contract's error envelope, with the request id of this response."""
    payload: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "request_id": request.scope["state"]["request_id"],
    }
    if error.details:
        payload["details"] = error.details
    return json_response({"error": payload}, error.status, error.headers)


def sandbox_state(request: Request) -> SandboxState:
    """The live state of the sandbox serving ``request``."""
    return cast(SandboxState, request.app.state.sandbox)


def authorize(request: Request, scope: str) -> TokenGrant:
    """The grant behind the bearer token: 401 without a live token, 403 without the scope."""
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    state = sandbox_state(request)
    grant = (
        state.tokens.lookup(token.strip(), state.clock.now()) if kind.lower() == "bearer" else None
    )
    if grant is None:
        raise ApiError(
            401,
            "invalid_token",
            "missing, expired or unknown access token; request a new one at /oauth/token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if scope not in grant.scopes:
        raise ApiError(
            403,
            "insufficient_scope",
            f"this token lacks the scope {scope!r}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    return grant


# -- query parameters ------------------------------------------------------------------------


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Query parameter ``name`` as a whole number in ``[low, high]``, else ``default``."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,4}", raw.strip()) or not low <= int(raw) <= high:
        raise ApiError(
            400, "invalid_request", f"{name} must be a whole number from {low} to {high}"
        )
    return int(raw)


def query_id(request: Request, name: str) -> str:
    """Required id parameter ``name``: present, not blank, at most 255 characters."""
    raw = request.query_params.get(name)
    if raw is None or not raw.strip() or len(raw) > 255:
        raise ApiError(400, "invalid_request", f"{name} is required and must not be empty")
    return raw


def optional_query_id(request: Request, name: str) -> str | None:
    """None when ``name`` is absent; otherwise checked like a required id."""
    return None if request.query_params.get(name) is None else query_id(request, name)


def query_date(request: Request, name: str) -> date | None:
    """Query parameter ``name`` as a ``YYYY-MM-DD`` date, or None when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be a date YYYY-MM-DD") from None


def paginate(request: Request, items: list[dict[str, Any]], kind: str) -> Response:
    """One page of ``items``: ``{"items", "next_page_token"}``; tokens are opaque offsets."""
    size = query_int(request, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    offset = 0
    raw = request.query_params.get("page_token")
    if raw:
        try:
            name, _, number = base64.urlsafe_b64decode(raw.encode() + b"==").decode().partition(":")
            offset = int(number)
            if name != kind or not 0 <= offset <= len(items):
                raise ValueError(raw)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ApiError(
                400,
                "invalid_request",
                "page_token was not issued for this list; start again without it",
            ) from None
    end = offset + size
    next_token = None
    if end < len(items):
        next_token = base64.urlsafe_b64encode(f"{kind}:{end}".encode()).decode().rstrip("=")
    return json_response({"items": items[offset:end], "next_page_token": next_token})
