"""Settings and named constants, each with its unit. Plain data, no I/O beyond reading env vars."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from ._errors import ConfigError

DEFAULT_BASE_URL = "https://api.zimun.online"
ENV_CLIENT_ID = "ZIMUN_CLIENT_ID"
ENV_CLIENT_SECRET = "ZIMUN_CLIENT_SECRET"
ENV_BASE_URL = "ZIMUN_BASE_URL"
# a JSON object of fsspec storage options for the CLI's --out (an object store's endpoint and
# credentials), merged under the --storage-option KEY=VALUE flags
ENV_STORAGE_OPTIONS = "ZIMUN_STORAGE_OPTIONS"

# Limits of every HTTP exchange, API and token requests alike (httpx.Timeout's four phases).
CONNECT_TIMEOUT_S = 10.0  # TCP and TLS handshake
READ_TIMEOUT_S = 30.0  # longest silence while a response is awaited or arriving
WRITE_TIMEOUT_S = 30.0  # longest stall while the request is sent
POOL_TIMEOUT_S = 30.0  # longest wait for a free connection of the pool
# httpx's read timeout restarts with every byte, so a body dripped slowly never trips it: after
# its headers a body gets READ_TIMEOUT_S, plus one second per this many bytes received.
MIN_TRANSFER_RATE_BPS = 4096.0  # 32 kbit/s, below any working link
CALL_DEADLINE_S = 120.0  # one call: all attempts, backoff, Retry-After waits and token fetches
SNAPSHOT_DEADLINE_S = 600.0  # zimun-analytics snapshot --deadline: the whole fetch of a run
MAX_CONNECTIONS = 256  # a client's connections open at once; a fetch never has more in flight
MAX_RETRIES = 5
INITIAL_RETRY_DELAY_S = 0.25
MAX_RETRY_DELAY_S = 8.0
MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After is not waited out: the error is raised instead
TOKEN_REFRESH_MARGIN_S = (
    60.0  # refresh this long before expiry, so no request carries a stale token
)

DEFAULT_PAGE_SIZE = 100  # the API's maximum: fewer round trips for catalogues
MAX_PAGE_SIZE = 100
DEFAULT_DAYS_AHEAD = 7  # the API's own default for one availability call
MAX_DAYS_AHEAD = 60  # the most one availability call covers
DEFAULT_WINDOW_DAYS = 14  # the window a fetch, a snapshot and the picker show unless told
MAX_FETCH_DAYS = 366  # a fetch covers longer windows than one call, in calls of MAX_DAYS_AHEAD
HOLD_TTL = timedelta(minutes=10)
# Sane values of an availability body; one outside them is refused as a ResponseFormatError (the
# fetch records it in .errors). Also checked: available in 0..capacity, slot end after start,
# days_ahead days each once and slots inside the window asked for, IANA zones, parseable times.
MAX_SLOT_CAPACITY = 10_000  # staff able to serve one slot (capacity, and so available too)
MAX_SLOT_MINUTES = 1_440  # longest slot: slot_duration_minutes and end - start, 1 minute to a day

# A store's .lock whose owner cannot be checked (another host, or an old lock format) counts
# as stale once it is older than this; an owner on this host is checked directly instead.
STORE_LOCK_LEASE_S = 3600.0
STORE_LOCK_WRITE_GRACE_S = 5.0  # an empty or garbled .lock younger than this may be mid-write


@dataclass(frozen=True)
class ClientSettings:
    """Where and as whom the client talks; the secret never shows in ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"base URL {base_url!r} is not an http(s) URL; "
            f"set {ENV_BASE_URL} to e.g. {DEFAULT_BASE_URL}"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"base URL {base_url!r} is plain http to a remote host: credentials "
            "would travel unencrypted; use https (plain http only for loopback)"
        )
    return base_url.rstrip("/")


def resolve_settings(
    client_id: str | None = None, client_secret: str | None = None, base_url: str | None = None
) -> ClientSettings:
    """Fill missing values from ``ZIMUN_CLIENT_ID``, ``ZIMUN_CLIENT_SECRET``, ``ZIMUN_BASE_URL``.

    Raises
    ------
    ConfigError
        When credentials are missing or the base URL is not acceptable.
    """
    client_id = client_id or os.environ.get(ENV_CLIENT_ID, "")
    client_secret = client_secret or os.environ.get(ENV_CLIENT_SECRET, "")
    missing = [
        name
        for name, value in [(ENV_CLIENT_ID, client_id), (ENV_CLIENT_SECRET, client_secret)]
        if not value
    ]
    if missing:
        raise ConfigError(
            f"missing credentials: set {' and '.join(missing)} (or pass "
            "client_id/client_secret); to try without any, use the sandbox: "
            "zimun-analytics sandbox"
        )
    url = _check_base_url(base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL)
    return ClientSettings(client_id, client_secret, url)
