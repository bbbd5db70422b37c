"""zimun-analytics: availability analytics for the Zimun booking API.

>>> from zimun_analytics import ZimunClient
>>> with ZimunClient() as client:  # credentials from ZIMUN_CLIENT_ID / ZIMUN_CLIENT_SECRET
...     client.availability("s_123", days_ahead=7)  # doctest: +SKIP

Heavy parts load only when used: the sandbox (``zimun_analytics.sandbox``), plots and widgets.
"""

__version__ = "0.1.0"

from .client import AsyncZimunClient, ZimunClient  # noqa: E402  (needs __version__ above)
from .errors import (  # noqa: E402
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConflictError,
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
    ValidationError,
    ZimunError,
)
from .models import (  # noqa: E402
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

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Appointment",
    "AsyncZimunClient",
    "AuthenticationError",
    "Availability",
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
    "ValidationError",
    "ZimunClient",
    "ZimunError",
    "__version__",
]
