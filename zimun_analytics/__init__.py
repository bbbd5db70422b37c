"""zimun-analytics: availability analytics for the Zimun booking API.

>>> from zimun_analytics import ZimunClient
>>> with ZimunClient() as client:  # credentials from ZIMUN_CLIENT_ID / ZIMUN_CLIENT_SECRET
...     client.availability("s_123", days_ahead=7)  # doctest: +SKIP

Heavy parts load only when used: ``fetch_availability`` and ``SnapshotStore`` (pandas,
pyarrow), the sandbox (``zimun_analytics.sandbox``), plots and widgets.
"""

import typing

from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConflictError,
    DamagedSnapshotWarning,
    HoldAlreadyConfirmedError,
    HoldExpiredError,
    IdempotencyKeyReusedError,
    InputError,
    InvalidStateError,
    LocationRequiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    SlotUnavailableError,
    SnapshotError,
    UnreadableAnswerError,
    ValidationError,
    ZimunError,
)
from ._models import (
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
from ._version import __version__
from .client import AsyncZimunClient, ZimunClient

if typing.TYPE_CHECKING:  # what __getattr__ hands out, for type checkers and IDEs
    from ._schema import AvailabilitySnapshot
    from .fetch import fetch_availability, fetch_availability_async
    from .store import SnapshotStore

# heavy (pandas, pyarrow): loaded on first use, so `import zimun_analytics` stays quick
_LAZY = {
    "AvailabilitySnapshot": "_schema",
    "SnapshotStore": "store",
    "fetch_availability": "fetch",
    "fetch_availability_async": "fetch",
}


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Appointment",
    "AsyncZimunClient",
    "AuthenticationError",
    "Availability",
    "AvailabilitySnapshot",
    "AvailabilityDay",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "Hold",
    "HoldAlreadyConfirmedError",
    "HoldExpiredError",
    "Holiday",
    "IdempotencyKeyReusedError",
    "InputError",
    "InvalidStateError",
    "Location",
    "LocationRequiredError",
    "NotFoundError",
    "Organization",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseFormatError",
    "ServerError",
    "Service",
    "Slot",
    "SlotUnavailableError",
    "SnapshotError",
    "DamagedSnapshotWarning",
    "UnreadableAnswerError",
    "SnapshotStore",
    "ValidationError",
    "ZimunClient",
    "ZimunError",
    "__version__",
    "fetch_availability",
    "fetch_availability_async",
]
