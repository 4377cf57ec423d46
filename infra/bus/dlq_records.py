"""What a dead letter *is*, without any I/O: its identity, its diagnosis, filters, and its JSON form.

A DLQ message arrives two ways and both must read the same to a person:
- dead-lettered by our runner: the original body plus `x-error-class`, `x-hint`, `x-consumer`...
- dead-lettered by the broker (the quorum queue's delivery limit, after a consumer crashed on it
  again and again): the original body and headers plus the broker's `x-death` /
  `x-first-death-*` headers and nothing of ours; the diagnosis is derived from those.

Everything here is a pure function of the message, so it is tested by tables
(tests/unit/test_dlq_filters.py) and shared by `dlq list`, `replay`, `purge`, `export` and `status`.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.bus.dlq_fingerprint import fingerprint
from infra.logging import redact_value

# The broker's per-trip headers: they change every time a message is returned to a queue
# (x-delivery-count) and so must not take part in a message's identity.
VOLATILE_HEADERS = frozenset({"x-delivery-count"})
# Our diagnosis of the last failure; a replayed copy starts without it.
DIAGNOSIS_HEADERS = (
    "x-error-class",
    "x-error-message",
    "x-hint",
    "x-http-status",
    "x-api-error-type",
    "x-field-errors",
    "x-last-failure-at",
    "x-last-error-class",
    "x-dead-lettered-at",
)
BROKER_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-delivery-count",
)
DELIVERY_LIMIT_CLASS = "DeliveryLimitExceeded"
DELIVERY_LIMIT_HINT = (
    "delivered more times than the work queue's x-delivery-limit and never acked: its consumer crashed "
    "or was killed while handling it (a poison message); find the event id in the consumer's logs, "
    "fix the cause, then replay or purge"
)
# the replay operation (store: dlq_operations) a replayed copy belongs to
REPLAY_OPERATION = "x-replay-operation"
KEPT_PROPERTIES = ("content_type", "content_encoding", "message_id", "correlation_id", "type")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `2h`, `1d`, `1w`, or combined `1h30m`; a bare number is seconds."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty duration")
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return timedelta(seconds=float(raw))
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(raw):
        if raw[pos : match.start()].strip():
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        pos = match.end()
    if pos == 0 or raw[pos:].strip():
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 10m, 2h, 1d, 1h30m)")
    return timedelta(seconds=seconds)


def format_age(age: timedelta | None) -> str:
    """Short and human: `45s`, `12m`, `3h`, `2d`."""
    if age is None:
        return "?"
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def header_count(headers: dict[str, Any], name: str) -> int:
    """One of our counting headers, 0 when absent or unreadable.

    The headers come with the message, and anyone who can publish can set them: reading them with a
    bare int() made a message with `x-attempts: "abc"` crash every consumer it reached (until the
    broker's delivery limit dead-lettered it without a diagnosis), and then `dlq list` too.
    """
    value = headers.get(name)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return 0


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def json_safe(value: Any) -> Any:
    """Header values as JSON: datetimes as ISO text, bytes as text (or base64 when not UTF-8)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # Decimal and friends


def body_json(body: bytes | str) -> Any:
    """A dead letter's body as JSON, None when it is none: not JSON, not UTF-8, or nested deeper than
    the decoder's recursion limit (RecursionError, no ValueError: it made `dlq list` raise)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def stable_id(body: bytes, headers: dict[str, Any], message_id: str | None) -> str:
    """The id a person types: the envelope's event_id, else the message_id, else a content hash.

    The hash leaves out the broker's volatile headers, so reading the DLQ (which returns and so
    re-counts every message) never changes an id.
    """
    data = body_json(body)
    if isinstance(data, dict) and isinstance(data.get("event_id"), str) and data["event_id"]:
        return data["event_id"]
    if message_id:
        return message_id
    stable = {k: v for k, v in headers.items() if k not in VOLATILE_HEADERS}
    digest = hashlib.sha256(body + json.dumps(json_safe(stable), sort_keys=True).encode()).hexdigest()
    return f"sha256:{digest[:24]}"


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ message and what a person needs to know about it."""

    id: str
    body: bytes
    headers: dict[str, Any]
    routing_key: str
    properties: dict[str, Any] = field(default_factory=dict)
    event_type: str = ""
    entity_id: str = ""
    error_class: str = ""
    error_message: str = ""
    hint: str = ""
    consumer: str = ""
    attempts: int = 0
    dead_lettered_at: datetime | None = None
    tenant: str = ""
    replay_count: int = 0

    @classmethod
    def from_message(
        cls,
        body: bytes,
        headers: dict[str, Any] | None,
        *,
        routing_key: str = "",
        properties: dict[str, Any] | None = None,
        prefix: str = "",
    ) -> DeadLetter:
        """Derive the diagnosis from our headers, or from the broker's when it dead-lettered."""
        headers = dict(headers or {})
        props = {k: v for k, v in (properties or {}).items() if k in KEPT_PROPERTIES and v is not None}
        data = body_json(body)
        envelope = data if isinstance(data, dict) else {}
        original_key = _text(headers.get("x-original-routing-key")) or routing_key
        deaths = headers.get("x-death") or []
        first_death = deaths[-1] if isinstance(deaths, list) and deaths else {}
        broker_reason = _text(headers.get("x-first-death-reason") or first_death.get("reason"))
        error_class = _text(headers.get("x-error-class"))
        hint = _text(headers.get("x-hint"))
        attempts = header_count(headers, "x-attempts")
        if not error_class and broker_reason:
            # (x-delivery-count here is the DLQ's own count of reads, not the work queue's)
            if broker_reason == "delivery_limit":
                error_class, hint = DELIVERY_LIMIT_CLASS, DELIVERY_LIMIT_HINT
            else:
                error_class = f"Broker:{broker_reason}"
                hint = f"the broker dead-lettered it ({broker_reason}); inspect it, then replay or purge"
        consumer = _text(headers.get("x-consumer"))
        if not consumer:
            queue = _text(headers.get("x-first-death-queue") or first_death.get("queue"))
            consumer = queue[len(prefix) :] if prefix and queue.startswith(prefix) else queue
        when = (
            _parse_time(headers.get("x-dead-lettered-at"))
            or _parse_time(first_death.get("time"))
            or _parse_time(headers.get("x-last-failure-at"))
        )
        return cls(
            id=stable_id(body, headers, _text(props.get("message_id")) or None),
            body=body,
            headers=headers,
            routing_key=original_key,
            properties=props,
            event_type=_text(envelope.get("type")) or original_key,
            entity_id=_text(envelope.get("entity_id")),
            error_class=error_class or "Unknown",
            error_message=_text(headers.get("x-error-message")),
            hint=hint,
            consumer=consumer,
            attempts=attempts,
            dead_lettered_at=when,
            tenant=_text(envelope.get("tenant")),
            replay_count=int(headers.get("x-replay-count") or 0),
        )

    @property
    def fingerprint(self) -> str:
        """The cause's key (infra/bus/dlq_fingerprint.py): the group this dead letter belongs to."""
        return fingerprint(self.error_class, self.consumer, self.error_message or self.hint)

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.dead_lettered_at is None:
            return None
        return (now or datetime.now(UTC)) - self.dead_lettered_at

    def body_text(self) -> str | None:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def summary(self, now: datetime | None = None) -> dict[str, Any]:
        """The row of `dlq list --json`: safe to print (no secret survives redact_value)."""
        age = self.age(now)
        return redact_value(
            "",
            {
                "id": self.id,
                "age_seconds": None if age is None else round(age.total_seconds(), 1),
                "dead_lettered_at": self.dead_lettered_at.isoformat() if self.dead_lettered_at else None,
                "event_type": self.event_type,
                "entity_id": self.entity_id,
                "consumer": self.consumer,
                "error_class": self.error_class,
                "error_message": self.error_message,
                "hint": self.hint,
                "attempts": self.attempts,
                "routing_key": self.routing_key,
                "replay_count": self.replay_count,
                "fingerprint": self.fingerprint,
            },
        )

    def detail(self) -> dict[str, Any]:
        """Everything `dlq show` prints: the body (parsed when it is JSON) and every header, redacted."""
        text = self.body_text()
        body: Any = body_json(text) if text is not None else None
        if body is None and text is not None and text.strip() != "null":
            body = text
        if text is None:
            body = {"base64": base64.b64encode(self.body).decode("ascii")}
        return {
            **self.summary(),
            "properties": redact_value("", json_safe(self.properties)),
            "headers": redact_value(
                "", json_safe({k: v for k, v in self.headers.items() if k not in VOLATILE_HEADERS})
            ),
            "body": redact_value("", body),
        }

    # --- export / import ------------------------------------------------------------------------

    def to_export(self) -> dict[str, Any]:
        """One JSON Lines record; `from_export` gives back the same body, headers and routing key."""
        record: dict[str, Any] = {
            "id": self.id,
            "routing_key": self.routing_key,
            "headers": json_safe({k: v for k, v in self.headers.items() if k not in VOLATILE_HEADERS}),
            "properties": json_safe(self.properties),
        }
        text = self.body_text()
        if text is None:
            record["body_base64"] = base64.b64encode(self.body).decode("ascii")
        else:
            record["body"] = text
        return record

    @classmethod
    def from_export(cls, record: dict[str, Any], *, prefix: str = "") -> DeadLetter:
        if "body_base64" in record:
            body = base64.b64decode(record["body_base64"])
        elif isinstance(record.get("body"), str):
            body = record["body"].encode("utf-8")
        else:
            raise ValueError("record has neither `body` nor `body_base64`")
        return cls.from_message(
            body,
            dict(record.get("headers") or {}),
            routing_key=str(record.get("routing_key") or ""),
            properties=dict(record.get("properties") or {}),
            prefix=prefix,
        )

    # --- replay ---------------------------------------------------------------------------------

    def replay_headers(self, now: datetime | None = None) -> dict[str, Any]:
        """Headers of the replayed copy: a fresh attempt count, no stale diagnosis, a replay trail."""
        headers = {
            k: v for k, v in self.headers.items() if k not in DIAGNOSIS_HEADERS and k not in BROKER_HEADERS
        }
        headers["x-attempts"] = 0
        headers["x-original-routing-key"] = self.routing_key
        headers["x-replay-count"] = int(self.headers.get("x-replay-count") or 0) + 1
        headers["x-replayed-at"] = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        return headers


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters an operation applies to; every given criterion must hold (AND).

    Error class, event type and consumer accept shell patterns (`Auvo*`, `auvo.*`) and ignore
    case; ids match in full or by a prefix of at least 6 characters, like short git hashes.
    """

    error_classes: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()
    exact_ids: frozenset[str] = frozenset()  # the ids an index selection named (a set: 10,000 of them)
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    @property
    def is_empty(self) -> bool:
        return not (
            self.error_classes
            or self.event_types
            or self.consumers
            or self.ids
            or self.fingerprints
            or self.exact_ids
            or self.older_than is not None
            or self.newer_than is not None
        )

    def matches(self, dl: DeadLetter, now: datetime | None = None) -> bool:
        if self.ids and not any(_id_matches(dl.id, wanted) for wanted in self.ids):
            return False
        if self.exact_ids and dl.id not in self.exact_ids:
            return False
        if self.fingerprints and dl.fingerprint not in self.fingerprints:
            return False
        if self.error_classes and not _any_pattern(dl.error_class, self.error_classes):
            return False
        if self.event_types and not _any_pattern(dl.event_type, self.event_types):
            return False
        if self.consumers and not _any_pattern(dl.consumer, self.consumers):
            return False
        if self.older_than is not None or self.newer_than is not None:
            age = dl.age(now)
            if age is None:
                return False  # an unknown age matches no age criterion
            if self.older_than is not None and age < self.older_than:
                return False
            if self.newer_than is not None and age > self.newer_than:
                return False
        return True


def _any_pattern(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)


def _id_matches(value: str, wanted: str) -> bool:
    return value == wanted or (len(wanted) >= 6 and value.startswith(wanted))
