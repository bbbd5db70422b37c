"""Small keyed stores of the sandbox: access tokens, idempotent responses, the email outbox."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from .calendar import to_utc_iso
from .errors import ApiError
from .world import ApiClient

__all__ = ["IdempotencyStore", "Outbox", "StoredResponse", "TokenGrant", "TokenStore"]

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_IDEMPOTENCY_KEY_CHARS = 255


@dataclass(frozen=True)
class TokenGrant:
    """What a bearer token stands for."""

    client: ApiClient
    scopes: frozenset[str]
    expires_at: datetime


class TokenStore:
    """Opaque bearer tokens, each bound to one client, its organization and scopes."""

    def __init__(self) -> None:
        self._grants: dict[str, TokenGrant] = {}
        self._lock = threading.Lock()

    def issue(self, client: ApiClient, scopes: frozenset[str], expires_at: datetime) -> str:
        """Mint a token valid until ``expires_at``."""
        token = "zt_" + secrets.token_urlsafe(24)
        with self._lock:
            self._grants[token] = TokenGrant(client, scopes, expires_at)
        return token

    def lookup(self, token: str, now: datetime) -> TokenGrant | None:
        """The grant of a live token, or None for unknown and expired tokens."""
        grant = self._grants.get(token)
        if grant is None or grant.expires_at <= now:
            return None
        return grant


@dataclass(frozen=True)
class StoredResponse:
    """The first response to an Idempotency-Key, kept for replay."""

    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]
    stored_at: datetime


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """Hash of what makes two requests "the same": method, path and the JSON body's content."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


class IdempotencyStore:
    """First response per (client, Idempotency-Key), kept 24 h by the sandbox clock."""

    def __init__(self) -> None:
        self._responses: dict[tuple[str, str], StoredResponse] = {}

    @staticmethod
    def check_key(key: str) -> None:
        """Reject keys the contract does not allow (400)."""
        if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
            raise ApiError(
                400,
                "invalid_request",
                f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} characters",
            )

    def replay(
        self, client_id: str, key: str, fingerprint: str, now: datetime
    ) -> StoredResponse | None:
        """The stored response for this key, None if new; 422 if the key came with another body."""
        stored = self._responses.get((client_id, key))
        if stored is None or now - stored.stored_at > IDEMPOTENCY_TTL:
            return None
        if stored.fingerprint != fingerprint:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request; "
                "mint a new key for a new request",
            )
        return stored

    def remember(self, client_id: str, key: str, response: StoredResponse) -> None:
        """Keep the first response to a key (a concurrent twin does not overwrite it)."""
        self._responses.setdefault((client_id, key), response)


class Outbox:
    """Emails the sandbox 'sent': one per appointment state change."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def send(self, kind: str, to: str, appointment_id: str, sent_at: datetime, text: str) -> None:
        """Record one email of ``kind`` confirmed/rescheduled/cancelled."""
        subjects = {
            "confirmed": "Your appointment is confirmed",
            "rescheduled": "Your appointment has been moved",
            "cancelled": "Your appointment has been cancelled",
        }
        self.items.append(
            {
                "kind": kind,
                "to": to,
                "appointment_id": appointment_id,
                "sent_at": to_utc_iso(sent_at),
                "subject": subjects[kind],
                "body": text,
            }
        )
