"""What the generated-input suite (tests/fuzz) found, each kept as one plain example.

Each one broke the rule every parser of outside input holds: a typed error with a clear message,
never an unhandled exception, a 503 for a body that cannot improve, a secret in an error, or state
written for a refused input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.envelope import Envelope, MalformedMessage
from infra import http
from infra.bus import dlq_records
from infra.bus.runner import ATTEMPTS
from infra.errors import ApiUnavailable, ConfigurationError
from infra.settings import load_settings
from producers.task_selection import TaskRules
from producers.webhooks.auvo_notifications import AuvoEvents, parse_auvo_notification
from producers.webhooks.bling_notifications import parse_bling_notification
from producers.webhooks.verification import NotificationRejected, parse_json_object, parse_notification_date
from tests.fuzz.asgi import AsgiDriver
from tests.fuzz.world import (
    AUVO_NOW,
    AUVO_SECRET,
    CUSTOMER,
    AuvoLikeReads,
    receiver_app,
)
from tests.ops_support import config_file_is_the_truth

DEEP = b"[" * 100_000 + b"]" * 100_000


def notifier(**result: Any) -> dict[str, Any]:
    return {"result": {"EntityType": "Cliente", "Action": "Alteracao", "Date": AUVO_NOW, **result}}


@pytest.fixture
def hooks(tmp_path: Path) -> Any:
    driver, recorder, store = receiver_app(tmp_path / "hooks.sqlite3")
    yield driver, recorder, store
    driver.close()


def post_auvo(driver: AsgiDriver, body: dict[str, Any]) -> Any:
    return driver.post(f"/webhooks/auvo/{AUVO_SECRET}", [json.dumps(body).encode()], [])


# --- webhooks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("entity_id", [-1, "../login/", "1/../../webHooks", 10**40, True])
def test_an_auvo_id_that_is_no_id_is_400_before_anything_is_read_or_noted(hooks: Any, entity_id: Any) -> None:
    """Found: the id went into `/customers/{id}` (Auvo answered 400, the receiver 503, Auvo resent it
    forever) and the notification had already been noted as heard."""
    driver, recorder, store = hooks
    answer = post_auvo(driver, notifier(EntityId=entity_id, Entities=[]))
    assert answer.status == 400 and b"not an Auvo id" in answer.body
    assert store.writes() == [] and recorder.published == []


def test_a_notification_refused_for_its_entities_is_not_noted_as_heard(hooks: Any) -> None:
    driver, _, store = hooks
    answer = post_auvo(driver, notifier(EntityId=0, Entities=[]))
    assert answer.status == 400
    assert store.writes() == []


def test_a_complete_entity_of_the_wrong_types_is_read_again_instead_of_503(hooks: Any) -> None:
    """Found: an entity with every field, one of another type, failed the event model (503)."""
    driver, recorder, _ = hooks
    answer = post_auvo(driver, notifier(EntityId=7_340_001, Entities=[{**CUSTOMER, "phoneNumber": "x"}]))
    assert answer.status == 200
    [event] = recorder.published
    assert event.payload["customer"]["phoneNumber"] == CUSTOMER["phoneNumber"]  # the fresh read


def test_a_record_auvo_itself_sends_of_the_wrong_types_is_400() -> None:
    class BadReads(AuvoLikeReads):
        def get_customer(self, customer_id: int | str) -> dict[str, Any]:
            return {**CUSTOMER, "id": "not-a-number"}

    events = AuvoEvents(BadReads(), TaskRules(enabled=True), customers_enabled=True)
    with pytest.raises(NotificationRejected) as refused:
        events.events(parse_auvo_notification(notifier(EntityId=7_340_001)))
    assert refused.value.status == 400 and "does not fit at id" in refused.value.reason


@pytest.mark.parametrize(
    "body",
    [
        {"event": "x" * 100 + ".updated", "data": {"id": 1}},  # stream bling.xxx… > the column's 64
        {"event": "order\x00.updated", "data": {"id": 1}},  # PostgreSQL refuses NUL in text
        {"event": "order.updated", "data": {"id": "a\x00b"}},
        {"event": "order.updated", "data": {"id": {"nested": 1}}},
        {"event": "order.updated", "data": {"id": True}},
    ],
)
def test_bling_names_and_ids_the_store_cannot_hold_are_400(body: dict[str, Any]) -> None:
    """Found: accepted, then refused by PostgreSQL (503): Bling resends a 503 for three days."""
    with pytest.raises(NotificationRejected) as refused:
        parse_bling_notification(body)
    assert refused.value.status == 400


def test_bling_events_of_resources_we_do_not_handle_still_parse() -> None:
    """They are acknowledged and ignored (a 400 would make Bling resend them for days)."""
    for event in ("consumer_invoice.created", "nota-fiscal.authorized", "stock.virtual.updated"):
        assert parse_bling_notification({"event": event, "data": {"id": 1}}).event == event


def test_bling_ids_as_numbers_or_digit_strings_still_parse() -> None:
    for given in (16_000_000_001, "16000000001", " 42 "):
        parsed = parse_bling_notification({"event": "Order.Updated", "data": {"id": given}})
        assert parsed.record_id == str(given).strip()


def test_json_nested_past_the_recursion_limit_is_400_not_503() -> None:
    """Found: json.loads raises RecursionError (no ValueError) for it, and the receiver said 503."""
    with pytest.raises(NotificationRejected) as refused:
        parse_json_object(DEEP)
    assert refused.value.status == 400


def test_a_brasilia_date_past_year_9999_in_utc_is_400_not_503() -> None:
    """Found: astimezone raised OverflowError, which parse_notification_date did not expect."""
    with pytest.raises(NotificationRejected) as refused:
        parse_notification_date("9999-12-31T23:59:59")
    assert refused.value.status == 400
    with pytest.raises(ValueError):
        http.parse_brasilia("9999-12-31T23:59:59")


# --- the bus --------------------------------------------------------------------------------------


def test_an_envelope_nested_past_the_recursion_limit_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="nested too deep"):
        Envelope.from_json(DEEP)


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("abc", 0),
        ([1], 0),
        ({"a": 1}, 0),
        (None, 0),
        (1.5, 0),
        (True, 0),
        (-3, 0),
        ("2", 2),
        (b"3", 3),
        (4, 4),
    ],
)
def test_a_counting_header_that_is_no_count_reads_as_0(value: Any, count: int) -> None:
    """Found: `int(headers["x-attempts"])` raised before the envelope was read: every consumer crashed
    on the message until the broker's delivery limit dead-lettered it without a diagnosis."""
    assert dlq_records.header_count({ATTEMPTS: value}, ATTEMPTS) == count


def test_a_dead_letter_nested_too_deep_or_with_a_bad_count_still_lists() -> None:
    """Found by the RabbitMQ test of malformed messages: `dlq list` raised on such a dead letter."""
    letter = dlq_records.DeadLetter.from_message(
        DEEP, {"x-attempts": "abc", "x-error-class": "ContractViolation"}
    )
    assert letter.attempts == 0 and letter.error_class == "ContractViolation"


# --- the API clients ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "1e400", "nan", "-inf"])
def test_a_retry_after_that_is_no_number_of_seconds_is_unreadable(value: str) -> None:
    """Found: float() reads these, and an infinite wait was passed on."""
    response = httpx.Response(429, headers={"Retry-After": value})
    assert http.retry_after_seconds(response) is None
    assert http.retry_after_seconds(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0


def test_a_login_answered_with_an_error_status_does_not_echo_its_token() -> None:
    """Found: the error's body excerpt showed the accessToken of the answer."""
    from infra.auvo.client import AuvoClient

    body = {"result": {"authenticated": True, "accessToken": "tok-fresh-0123456789", "expiration": "x"}}
    transport = httpx.MockTransport(lambda request: httpx.Response(500, json=body))
    client = AuvoClient("https://auvo.test/api/v2", "key-0123", "token-0123", transport=transport)
    with client, pytest.raises(ApiUnavailable) as failed:
        client.check()
    assert "tok-fresh-0123456789" not in str(failed.value)
    assert '"accessToken":"***"' in str(failed.value)


@pytest.mark.parametrize("expires_in", ["nan", 1e20, "1e400", -60])
def test_a_token_lifetime_that_is_no_lifetime_is_the_default(expires_in: Any) -> None:
    """Found: `timedelta(seconds=nan)` raised ValueError and 1e20 OverflowError out of a refresh (an
    untyped error where the caller expects the token set or the token endpoint's typed refusal)."""
    from infra.bling.oauth import DEFAULT_EXPIRES_IN_S, refresh_tokens

    body = {"access_token": "a-0123", "refresh_token": "r-0123", "expires_in": expires_in}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    tokens = refresh_tokens("https://bling.test/Api/v3/", "id", "secret-0123", "r-old", transport=transport)
    assert tokens.lifetime_seconds == DEFAULT_EXPIRES_IN_S


# --- settings -------------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config_file_is_the_truth(monkeypatch)
    return tmp_path / "auvo-bling.toml"


def test_a_config_file_that_is_not_utf8_is_one_line(config: Path) -> None:
    """Found: tomllib lets UnicodeDecodeError through, and the CLI ended in a traceback."""
    config.write_bytes(b'[auvo]\nnote = "\xe9"\n')
    with pytest.raises(ConfigurationError, match="is not UTF-8 text"):
        load_settings(config)


def test_a_url_in_the_wrong_place_does_not_echo_its_password(config: Path) -> None:
    """Found: `(got 'http://guest:PASSWORD@broker/')` in the one line."""
    config.write_text('amqp_url = "http://guest:pa55-w0rd-secret@broker/"\n')
    with pytest.raises(ConfigurationError) as refused:
        load_settings(config)
    assert "pa55-w0rd-secret" not in str(refused.value) and "amqp_url" in str(refused.value)


def test_a_key_holding_a_newline_stays_one_line(config: Path) -> None:
    """Found: a quoted key with a newline in it split the message in two."""
    config.write_text('["\\n"]\n')
    with pytest.raises(ConfigurationError) as refused:
        load_settings(config)
    assert "\n" not in str(refused.value) and "\\n" in str(refused.value)
