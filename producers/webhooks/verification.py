"""What makes a pushed notification trustworthy, as pure functions (tested without a server).

Bling signs every notification: `X-Bling-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`
keyed by the app's client secret. The HMAC is computed over the bytes received, before any JSON
parsing, because re-serialising would change them. Auvo cannot sign, so the URL registered in
Auvo carries a secret path segment instead. Both comparisons are constant-time, so the time an
answer takes says nothing about how much of a guess was right.

A valid signature does not stop a replay (a captured notification stays validly signed forever),
so a notification whose own date is further from now than the replay window is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

from infra.http import parse_brasilia

SIGNATURE_HEADER = "x-bling-signature-256"
SIGNATURE_PREFIX = "sha256="


class NotificationRejected(Exception):
    """A notification that must not be acted on; `status` is the HTTP answer, `reason` says why.

    The reason is safe to log and to answer with: it never contains a secret or a signature.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def bling_signature(raw_body: bytes, client_secret: str) -> str:
    """The header value Bling sends for this body (what the simulator signs with, too)."""
    digest = hmac.new(client_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_bling_signature(raw_body: bytes, header: str | None, client_secret: str) -> None:
    """Raise 401 unless `header` is Bling's HMAC-SHA256 of exactly these bytes."""
    if not client_secret:
        raise NotificationRejected(401, "no Bling client secret configured to verify signatures")
    if not header:
        raise NotificationRejected(401, "missing X-Bling-Signature-256")
    expected = bling_signature(raw_body, client_secret)
    # hex digests are case-insensitive; compare_digest needs both sides in one form
    if not hmac.compare_digest(header.strip().lower().encode(), expected.encode()):
        raise NotificationRejected(401, "bad X-Bling-Signature-256")


def verify_url_secret(given: str, expected: str) -> None:
    """Raise 401 unless the path segment is the configured Auvo webhook secret."""
    if not expected:
        raise NotificationRejected(401, "no Auvo webhook secret configured")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotificationRejected(401, "bad webhook secret in the URL")


def check_size(declared_length: str | None, max_bytes: int) -> None:
    """Refuse early on Content-Length, before reading a body that is too large (413)."""
    if declared_length is None:
        return
    try:
        length = int(declared_length)
    except ValueError:
        raise NotificationRejected(400, "invalid Content-Length") from None
    if length > max_bytes:
        raise NotificationRejected(413, f"body of {length} bytes is over the {max_bytes}-byte limit")


def parse_json_object(raw_body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or 400 (nesting deeper than Python's recursion limit included: the
    decoder raises RecursionError for it, which is no ValueError)."""
    try:
        data = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        raise NotificationRejected(400, "body is not JSON") from None
    except RecursionError:
        raise NotificationRejected(400, "body is JSON nested too deep") from None
    if not isinstance(data, dict):
        raise NotificationRejected(400, "body is not a JSON object")
    return data


def parse_notification_date(value: Any) -> datetime:
    """A notification's own date as aware UTC: ISO 8601, with an offset or `Z`, or naive Brasília.

    Auvo's notifier sends naive Brasília time (`2019-01-01T08:00:00`), Bling sends ISO 8601; both
    read with the same rule the API clients use for those providers' timestamps.
    """
    if not isinstance(value, str) or not value.strip():
        raise NotificationRejected(400, "notification has no date")
    try:
        return parse_brasilia(value)
    except ValueError:
        raise NotificationRejected(400, f"notification date {value[:40]!r} is not a date") from None


def check_fresh(occurred: datetime, now: datetime, window: timedelta) -> None:
    """Refuse (409) a notification dated further than the replay window from now, either way.

    Why both ways: a date far in the future would otherwise stay "fresh" for longer than the window.
    409 rather than 400: the body is well formed; it is its moment that is refused.
    """
    age = now - occurred
    if age > window or -age > window:
        raise NotificationRejected(
            409, f"notification dated {occurred.isoformat()} is outside the replay window"
        )
