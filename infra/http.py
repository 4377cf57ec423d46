"""What the Auvo and Bling clients share: transport, failure mapping, paging, redaction, local time.

Both APIs fail in the same physical ways (timeouts, refused connections, 5xx) and both must keep
credentials out of every message an operator will read, so that logic lives once, here. What differs
between the two (auth, error bodies, paging signals) stays in each client.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

import httpx

from infra.errors import ApiUnavailable

# Brasília has had no daylight saving time since 2019; both APIs speak its naive local time.
BRASILIA = timezone(timedelta(hours=-3), "America/Sao_Paulo")

_EXCERPT_LIMIT = 500
_MASK = "***"
_SENSITIVE_QUERY = re.compile(
    r"(?i)\b(api_?key|api_?token|access_?token|refresh_?token|client_?secret|code|token|password)=([^&\s\"']+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# the same names as JSON members: a login answered with an error status may still carry a token
_SENSITIVE_MEMBER = re.compile(
    r"(?i)(\"(?:api_?key|api_?token|access_?token|refresh_?token|client_?secret|token|password)\"\s*:\s*)"
    r"\"(?:[^\"\\]|\\.)*\"?"
)


class Throttle(Protocol):
    """The shared rate limiter; blocks until the caller may send one request.

    Injected rather than built here because the bucket lives in the store and is shared by every
    process: a client that throttled on its own would still let N processes produce a 429 storm.
    """

    def __call__(self) -> None: ...


# When the API says "too many requests" anyway (another client on the account, a stricter limit
# than configured), the shared bucket is held back so every process slows down, not just the
# one that got the answer.
RATE_LIMIT_PAUSE_SECONDS = 1.0
_RATE_LIMIT_TEXT = "rate limit temporarily exceeded"


def is_rate_limited(response: httpx.Response) -> bool:
    """429 (Bling), or Auvo's 403 whose body says the rate limit was exceeded."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and _RATE_LIMIT_TEXT in response.text.lower()


def _slow_down(throttle: Throttle | None, response: httpx.Response) -> None:
    penalize = getattr(throttle, "penalize", None)
    if penalize is not None and is_rate_limited(response):
        penalize(retry_after_seconds(response) or RATE_LIMIT_PAUSE_SECONDS)
    # a throttle that counts answers (Bling's per-IP error ceiling, infra/egress.py) sees each one
    observe = getattr(throttle, "observe", None)
    if observe is not None:
        observe(response)


class RequestCount:
    """Requests a client sent, whatever the answer: what the provider counts against the quota.

    Thread-safe, because one client serves every consumer thread of a process. The backfill reads
    it for its calls-per-record figure (its writes go through the consumers' writers, which call
    the client directly); it is also the seed of a per-account daily count.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value = 0

    def add(self) -> None:
        with self._lock:
            self._value += 1

    @property
    def value(self) -> int:
        return self._value


class _ProcessPool(httpx.BaseTransport):
    """The process's one connection pool, lent to every client that brings no transport of its own.

    An `httpx.Client` builds its own transport (an SSL context, a pool) in about 30 ms of CPU, and
    a deployment serving a thousand companies builds an Auvo and a Bling client per company and
    per consumer thread: minutes of CPU at start, and a socket kept open per client. The requests
    carry their company's credentials themselves, so one pool serves them all. A client closing
    does not close the pool (it outlives every client: the process's)."""

    def __init__(self) -> None:
        self._pool = httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=POOL_CONNECTIONS, max_keepalive_connections=POOL_KEEPALIVE)
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pool.handle_request(request)

    def close(self) -> None:
        """A client is done with it; the pool stays for the others."""


# the process's threads that call the APIs (poll and consumer threads) are a few dozen at most
POOL_CONNECTIONS = 200
POOL_KEEPALIVE = 100
_PROCESS_POOL: list[_ProcessPool] = []
_PROCESS_POOL_LOCK = threading.Lock()


def process_pool() -> httpx.BaseTransport:
    with _PROCESS_POOL_LOCK:
        if not _PROCESS_POOL:
            _PROCESS_POOL.append(_ProcessPool())
        return _PROCESS_POOL[0]


def build_client(
    base_url: str,
    *,
    timeout: float = 10.0,
    connect_timeout: float | None = None,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """One client per API client, on the process's connection pool (`process_pool`), so
    keep-alive connections are reused across calls and companies.

    The connect timeout is separate because a dead host should fail fast while a slow list page may
    legitimately take the whole read timeout.
    """
    limits = httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout)
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        timeout=limits,
        # the process's pool unless a test brings its own; a proxy from the environment is still
        # honoured (httpx mounts it beside the default transport)
        transport=transport if transport is not None else process_pool(),
        headers={"Accept": "application/json", **(headers or {})},
        follow_redirects=False,
    )


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Masks credentials in text that may end up in an exception, a log line or a DLQ message.

    Known secret values are masked verbatim (APIs sometimes echo them back); credential-looking query
    parameters and Authorization values are masked by shape, for the secrets we were not told about.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    text = _SENSITIVE_QUERY.sub(lambda m: f"{m.group(1)}={_MASK}", text)
    text = _SENSITIVE_MEMBER.sub(lambda m: f'{m.group(1)}"{_MASK}"', text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {_MASK}", text)


def describe(request: httpx.Request) -> str:
    """`METHOD /path` without the query string: Auvo's login carries its credentials in the query."""
    return f"{request.method} {request.url.path}"


def send(
    client: httpx.Client,
    request: httpx.Request,
    *,
    service: str,
    throttle: Throttle | None,
    secrets: Sequence[str | None] = (),
    counter: RequestCount | None = None,
) -> httpx.Response:
    """Sends one request after taking a token from the shared throttle, mapping transport failures.

    Timeouts and connection errors are transient by nature, so they become ApiUnavailable. The httpx
    exception is not chained (`from None`): its text and traceback may hold the full URL.
    """
    if throttle is not None:
        throttle()
    if counter is not None:
        counter.add()
    try:
        response = client.send(request)
    except httpx.TimeoutException as exc:
        raise ApiUnavailable(f"{service} {describe(request)} timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        detail = redact(str(exc), secrets)
        raise ApiUnavailable(
            f"{service} {describe(request)} failed: {type(exc).__name__}: {detail}"
        ) from None
    _slow_down(throttle, response)
    return response


def server_error(
    response: httpx.Response, *, service: str, secrets: Sequence[str | None] = ()
) -> ApiUnavailable:
    """A 5xx is the provider's fault and usually passes; retry later rather than dead-letter."""
    return ApiUnavailable(
        f"{service} answered {response.status_code} to {describe(response.request)}: "
        f"{body_excerpt(response, secrets)}",
        http_status=response.status_code,
    )


def body_excerpt(response: httpx.Response, secrets: Sequence[str | None] = ()) -> str:
    """A short, redacted piece of the body: enough for a diagnosis, never a whole page or a token."""
    text = response.text.strip().replace("\n", " ")
    if len(text) > _EXCERPT_LIMIT:
        text = text[:_EXCERPT_LIMIT] + "..."
    return redact(text, secrets) or "(empty body)"


def json_body(response: httpx.Response) -> Any:
    """Parses a JSON body leniently; None when there is none or it is not JSON (or nested too deep).

    Auvo's blueprint shows bodies as a bare `"result": {...}` member; an implementation copying that
    literally would send a body that only parses once wrapped in braces, so that is tried too.
    """
    text = response.text.strip()
    if not text:
        return None
    for candidate in (text, "{" + text + "}"):
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):  # RecursionError: nested past the recursion limit
            continue
    return None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Reads Retry-After in either form HTTP allows (seconds or an HTTP date); None when unreadable,
    which `inf`, `1e400` and `nan` are too (float() reads them, and no wait can be computed from them)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def paginate(
    fetch_page: Callable[[int], list[dict[str, Any]]],
    *,
    first_page: int = 1,
    page_size: int | None = None,
    total_items: Callable[[], int | None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yields records page after page until the API signals the end.

    Ends on an empty page (both APIs), on a page shorter than `page_size` when the API promises full
    pages, once `total_items` records were seen, or when a page repeats the previous one: a server that
    ignores the page parameter would otherwise make this loop forever.
    """
    page, seen, previous = first_page, 0, None
    while True:
        records = fetch_page(page)
        if not records or records == previous:
            return
        yield from records
        seen += len(records)
        total = total_items() if total_items is not None else None
        if (page_size is not None and len(records) < page_size) or (total is not None and seen >= total):
            return
        previous, page = records, page + 1


def as_brasilia(dt: datetime) -> datetime:
    """Converts an aware datetime to Brasília local time.

    Naive datetimes are refused: guessing their zone would silently shift every poll window by hours.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required (naive datetimes are ambiguous)")
    return dt.astimezone(BRASILIA)


def parse_brasilia(text: str) -> datetime:
    """Parses the APIs' local timestamps (`T` or space separated, optional fraction) as aware UTC.

    A value that already carries an offset or `Z` is honoured instead of being forced to Brasília.
    One that is valid but has no UTC equivalent (`9999-12-31T23:59:59` in Brasília is past year 9999
    in UTC) raises ValueError like any unreadable one: callers catch ValueError, not OverflowError.
    """
    cleaned = text.strip().replace(" ", "T", 1)
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=BRASILIA)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text[:40]!r} has no UTC equivalent") from None
