"""Dead letters without a broker: durations, identity, diagnosis, filters, export form, replay headers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from infra.bus.dlq_records import (
    DELIVERY_LIMIT_CLASS,
    DeadLetter,
    DeadLetterFilter,
    format_age,
    parse_duration,
    stable_id,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("10m", 600),
        ("2h", 7200),
        ("1d", 86400),
        ("1w", 604800),
        ("1h30m", 5400),
        ("1H 30M", 5400),
        ("0.5h", 1800),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "10x", "ten minutes", "10m later", "-5m", "m10"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "shown"), [(5, "5s"), (59, "59s"), (60, "1m"), (7300, "2h"), (200000, "2d"), (-3, "0s")]
)
def test_format_age(seconds: int, shown: str) -> None:
    assert format_age(timedelta(seconds=seconds)) == shown
    assert format_age(None) == "?"


def envelope(event_id: str = "e-1", type_: str = "auvo.customer.changed", entity: str = "42") -> bytes:
    return json.dumps({"event_id": event_id, "type": type_, "entity_id": entity}).encode()


def ours(
    *,
    error_class: str = "ApiRejected",
    consumer: str = "to-bling.contacts",
    age: timedelta = timedelta(minutes=5),
    body: bytes | None = None,
    **extra: object,
) -> DeadLetter:
    headers = {
        "x-error-class": error_class,
        "x-hint": "fix it, then replay",
        "x-consumer": consumer,
        "x-attempts": 1,
        "x-original-routing-key": "auvo.customer.changed",
        "x-dead-lettered-at": (NOW - age).isoformat(),
        **extra,
    }
    return DeadLetter.from_message(body if body is not None else envelope(), headers, routing_key="ignored")


def test_id_is_the_event_id_then_message_id_then_a_hash_that_ignores_delivery_count() -> None:
    assert stable_id(envelope("abc"), {}, "mid") == "abc"
    assert stable_id(b"not json", {}, "mid") == "mid"
    first = stable_id(b"not json", {"x-error-class": "X", "x-delivery-count": 0}, None)
    again = stable_id(b"not json", {"x-error-class": "X", "x-delivery-count": 7}, None)
    assert first == again and first.startswith("sha256:")
    assert stable_id(b"other", {"x-error-class": "X"}, None) != first


def test_diagnosis_from_our_headers() -> None:
    dl = ours()
    assert (dl.id, dl.event_type, dl.entity_id, dl.error_class, dl.consumer) == (
        "e-1",
        "auvo.customer.changed",
        "42",
        "ApiRejected",
        "to-bling.contacts",
    )
    assert dl.routing_key == "auvo.customer.changed"  # the original, not the DLQ's
    assert dl.age(NOW) == timedelta(minutes=5)


def test_diagnosis_of_a_broker_dead_letter_by_delivery_limit() -> None:
    headers = {
        "x-attempts": 0,
        "x-delivery-count": 3,
        "x-death": [
            {
                "count": 1,
                "reason": "delivery_limit",
                "queue": "p1.to-auvo.customers",
                "time": datetime(2025, 5, 1, 11, 0),  # py-amqp gives naive UTC datetimes
                "exchange": "p1.auvo-bling.events",
                "routing-keys": ["bling.contact.changed"],
            }
        ],
        "x-first-death-reason": "delivery_limit",
        "x-first-death-queue": "p1.to-auvo.customers",
    }
    dl = DeadLetter.from_message(
        envelope(type_="bling.contact.changed"), headers, routing_key="bling.contact.changed", prefix="p1."
    )
    assert dl.error_class == DELIVERY_LIMIT_CLASS
    assert "crashed" in dl.hint and "replay" in dl.hint
    assert dl.consumer == "to-auvo.customers"  # the prefix is stripped
    assert dl.age(NOW) == timedelta(hours=1)


def test_a_body_that_is_not_json_still_has_an_id_and_a_type() -> None:
    dl = ours(body=b"\xff\xfe garbage")
    assert dl.id.startswith("sha256:") and dl.event_type == "auvo.customer.changed" and dl.entity_id == ""
    assert dl.body_text() is None


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (DeadLetterFilter(), {"a", "b", "c", "d"}),
        (DeadLetterFilter(error_classes=("apirejected",)), {"a"}),
        (DeadLetterFilter(error_classes=("Auvo*",)), {"b", "c"}),
        (DeadLetterFilter(error_classes=("ApiRejected", "AuvoCredentialsInvalid")), {"a", "c"}),
        (DeadLetterFilter(event_types=("bling.*",)), {"d"}),
        (DeadLetterFilter(consumers=("to-auvo.customers",)), {"d"}),
        (DeadLetterFilter(older_than=timedelta(hours=1)), {"b", "c"}),
        (DeadLetterFilter(newer_than=timedelta(hours=1)), {"a"}),  # d has no known age
        (DeadLetterFilter(older_than=timedelta(hours=1), newer_than=timedelta(hours=5)), {"b"}),
        (DeadLetterFilter(error_classes=("Auvo*",), older_than=timedelta(hours=4)), {"c"}),
        (DeadLetterFilter(ids=("id-bbbb",)), {"b"}),
        (DeadLetterFilter(ids=("id-cc",)), set()),  # a prefix shorter than 6 characters never matches
        (DeadLetterFilter(ids=("id-ccc",)), {"c"}),
    ],
)
def test_filters(flt: DeadLetterFilter, expected: set[str]) -> None:
    letters = {
        "a": ours(body=envelope("id-aaaa1")),
        "b": ours(body=envelope("id-bbbb2"), error_class="AuvoApiDeactivated", age=timedelta(hours=2)),
        "c": ours(body=envelope("id-cccc3"), error_class="AuvoCredentialsInvalid", age=timedelta(days=1)),
        "d": DeadLetter.from_message(
            envelope("id-dddd4", type_="bling.contact.changed"),
            {"x-error-class": "NotFound", "x-consumer": "to-auvo.customers"},
        ),
    }
    assert {name for name, dl in letters.items() if flt.matches(dl, NOW)} == expected
    assert flt.is_empty == (flt == DeadLetterFilter())


def test_export_round_trip_keeps_body_headers_and_routing_key() -> None:
    for body in (envelope(), b"\x00\xff binary"):
        dl = ours(body=body, **{"x-http-status": 422, "x-delivery-count": 4})
        record = json.loads(json.dumps(dl.to_export()))
        back = DeadLetter.from_export(record)
        assert (back.id, back.body, back.routing_key, back.error_class) == (
            dl.id,
            dl.body,
            dl.routing_key,
            dl.error_class,
        )
        assert "x-delivery-count" not in back.headers  # volatile: the broker's, not the message's
        assert back.headers["x-http-status"] == 422
    assert "body_base64" in ours(body=b"\xff").to_export()
    with pytest.raises(ValueError):
        DeadLetter.from_export({"routing_key": "x"})


def test_replay_headers_reset_attempts_and_keep_a_trail() -> None:
    dl = ours(**{"x-attempts": 6, "x-replay-count": 1, "x-first-failure-at": "2025-01-01T00:00:00+00:00"})
    headers = dl.replay_headers(NOW)
    assert headers["x-attempts"] == 0
    assert headers["x-replay-count"] == 2
    assert headers["x-replayed-at"] == NOW.isoformat(timespec="seconds")
    assert headers["x-original-routing-key"] == "auvo.customer.changed"
    assert headers["x-first-failure-at"] == "2025-01-01T00:00:00+00:00"
    assert not {"x-error-class", "x-hint", "x-dead-lettered-at", "x-death"} & set(headers)


def test_printed_forms_redact_secrets() -> None:
    dl = DeadLetter.from_message(
        json.dumps({"event_id": "e", "payload": {"access_token": "tok-123"}}).encode(),
        {
            "x-error-class": "ApiRejected",
            "x-error-message": "GET https://x/v2/login?apiKey=k-999&apiToken=t-888 failed",
            "authorization": "Bearer abc.def",
        },
    )
    printed = json.dumps(dl.detail()) + json.dumps(dl.summary())
    for secret in ("tok-123", "k-999", "t-888", "abc.def"):
        assert secret not in printed
