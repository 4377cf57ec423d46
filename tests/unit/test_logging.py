"""Logging never writes secrets: `scrub` on free text and the redaction processor in the structlog chain."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from infra.logging import REDACTED, configure_logging, get_logger, redact_value, scrub


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """structlog configured for JSON into a buffer; global config restored afterwards."""
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# --- scrub ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_~+/=", "eyJhbGci", "Bearer ***"),
        ("authorization: bearer abc.DEF-123", "abc.DEF", "bearer ***"),
        ("Authorization: Basic OWQyN2Y5MzY6czNjcjN0", "OWQyN2Y5MzY6czNjcjN0", "Basic ***"),
        (
            "GET https://api.auvo.com.br/v2/login/?apiKey=AbC123xyz&apiToken=tok-456",
            "AbC123xyz",
            "apiKey=***",
        ),
        ("GET /v2/login/?apiKey=k&apiToken=tok-456&page=2", "tok-456", "apiToken=***&page=2"),
        ("APIKEY=upper-case-key", "upper-case-key", "APIKEY=***"),
        ("grant_type=refresh_token&refresh_token=rt-77c1d0", "rt-77c1d0", "refresh_token=***"),
        ("client_id=abc&client_secret=s3cr3t-value", "s3cr3t-value", "client_id=abc&client_secret=***"),
        ("callback?code=4f1a9e&state=xyz", "4f1a9e", "code=***&state=xyz"),
        ("https://api.bling.com.br/Api/v3/contatos?access_token=at-123", "at-123", "access_token=***"),
        ("amqp://guest:hunter2@rabbit:5672/vhost", "hunter2", "amqp://guest:***@rabbit:5672/vhost"),
        ("postgresql://bridge:p%40ss@pg:5432/db", "p%40ss", "postgresql://bridge:***@pg:5432/db"),
        ('{"url": "https://u:pw@host/x"}', "pw@", "https://u:***@host/x"),
    ],
)
def test_scrub_masks_credentials(text: str, secret: str, kept: str) -> None:
    """The credential is gone and the surrounding text survives."""
    out = scrub(text)
    assert secret not in out
    assert kept in out


@pytest.mark.parametrize(
    "text",
    [
        "synced customer 8123401 -> contato 16123456789",
        "https://api.auvo.com.br/v2/customers/?page=2&pageSize=100",
        "amqp://rabbit:5672/",
        "postgresql://bridge@pg:5432/db",
        "event_id=5b0c6a43-0e4e-4bd7-9a55-3f8f1c3b2a10",
        "",
    ],
)
def test_scrub_leaves_harmless_text_alone(text: str) -> None:
    """Text without credentials is unchanged."""
    assert scrub(text) == text


def test_scrub_is_idempotent() -> None:
    """Scrubbing twice gives the same text (no double masking artefacts)."""
    text = "Bearer abc apiKey=k&apiToken=t amqp://u:p@h/ client_secret=s"
    assert scrub(scrub(text)) == scrub(text)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql://bridge@pg:5432/db?password=pg-secret-9", "pg-secret-9"),
        ("https://hooks.example.com/bling?token=wh-secret-1", "wh-secret-1"),
        ("https://x/api?api_key=key-secret-2", "key-secret-2"),
    ],
)
def test_scrub_masks_secret_query_parameters(text: str, secret: str) -> None:
    """Other common secret query parameters are masked too."""
    assert secret not in scrub(text)


@pytest.mark.parametrize("text", ["statusCode=500", "error_code=E42", "zipcode=01310100"])
def test_scrub_does_not_mask_words_ending_in_code(text: str) -> None:
    """Only the OAuth `code` parameter is a secret."""
    assert scrub(text) == text


# --- redact_value --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "access_token",
        "refresh_token",
        "client_secret",
        "Authorization",
        "authorization",
        "password",
        "api_key",
        "apiKey",
        "api-key",
        "apiToken",
        "cookie",
        "code_verifier",
        "secret_key",
    ],
)
def test_redact_value_masks_secret_keys(key: str) -> None:
    """A string under a key that names a credential is masked entirely."""
    assert redact_value(key, "plain-secret-value") == REDACTED


@pytest.mark.parametrize("key", ["event_id", "entity_id", "status", "token_expires_at", "token_calls", "url"])
def test_redact_value_keeps_ordinary_keys(key: str) -> None:
    """Ordinary keys (and the whitelisted token_* ones) keep their values."""
    assert redact_value(key, "2024-05-10T14:22:31") == "2024-05-10T14:22:31"


# --- the structlog pipeline ----------------------------------------------------------------------


def test_pipeline_redacts_secret_keys_and_keeps_others(json_log: io.StringIO) -> None:
    """Top-level, nested and listed secrets are masked; event_id and friends are not."""
    log = get_logger("test")
    log.info(
        "token refreshed",
        access_token="at-secret-1",
        refresh_token="rt-secret-2",
        client_secret="cs-secret-3",
        Authorization="Bearer at-secret-1",
        event_id="5b0c6a43-0e4e-4bd7-9a55-3f8f1c3b2a10",
        entity_id="8123401",
        attempts=3,
        headers={"Authorization": "Basic YWJjOmRlZg==", "Content-Type": "application/json"},
        request={"auth": {"password": "pw-secret-4", "user": "ops"}, "items": [{"apiToken": "tk-secret-5"}]},
        tokens=["ls-secret-6", "ls-secret-7"],
        notes=["ok", "Bearer nested-secret-8"],
        url="https://api.auvo.com.br/v2/login/?apiKey=ak-secret-9&apiToken=at-secret-10",
    )
    raw = json_log.getvalue()
    for n, secret in enumerate(
        [
            "at-secret-1",
            "rt-secret-2",
            "cs-secret-3",
            "YWJjOmRlZg==",
            "pw-secret-4",
            "tk-secret-5",
            "ls-secret-6",
            "ls-secret-7",
            "nested-secret-8",
            "ak-secret-9",
            "at-secret-10",
        ]
    ):
        assert secret not in raw, (n, raw)
    (entry,) = lines(json_log)
    assert entry["event"] == "token refreshed"
    assert entry["level"] == "info"
    assert entry["event_id"] == "5b0c6a43-0e4e-4bd7-9a55-3f8f1c3b2a10"
    assert entry["entity_id"] == "8123401"
    assert entry["attempts"] == 3
    assert entry["access_token"] == REDACTED
    assert entry["Authorization"] == REDACTED
    assert entry["headers"] == {"Authorization": REDACTED, "Content-Type": "application/json"}
    assert entry["request"]["auth"] == {"password": REDACTED, "user": "ops"}
    assert entry["request"]["items"] == [{"apiToken": REDACTED}]
    assert entry["tokens"] == [REDACTED, REDACTED]
    assert entry["notes"] == ["ok", "Bearer ***"]
    assert entry["url"] == "https://api.auvo.com.br/v2/login/?apiKey=***&apiToken=***"
    assert "timestamp" in entry


def test_pipeline_scrubs_the_event_message(json_log: io.StringIO) -> None:
    """A careless message string with a credential is scrubbed too."""
    get_logger("test").warning("retrying https://u:pw-secret@host/x?apiKey=ak-secret")
    (entry,) = lines(json_log)
    assert "pw-secret" not in entry["event"] and "ak-secret" not in entry["event"]
    assert entry["level"] == "warning"


def test_pipeline_filters_below_level(json_log: io.StringIO) -> None:
    """At level info, debug lines are dropped."""
    log = get_logger("test")
    log.debug("noise", event_id="x")
    log.info("kept", event_id="y")
    assert [e["event"] for e in lines(json_log)] == ["kept"]


def test_pipeline_context_vars_are_redacted(json_log: io.StringIO) -> None:
    """Values bound through contextvars pass the same redaction."""
    structlog.contextvars.bind_contextvars(event_id="ev-1", authorization="Bearer ctx-secret")
    try:
        get_logger("test").info("handled")
    finally:
        structlog.contextvars.clear_contextvars()
    (entry,) = lines(json_log)
    assert entry["event_id"] == "ev-1"
    assert entry["authorization"] == REDACTED


def test_console_renderer_redacts_too() -> None:
    """The terminal format goes through the same processor."""
    stream = io.StringIO()
    configure_logging("console", "info", stream=stream)
    try:
        get_logger("test").info("hi", access_token="at-console-secret", event_id="ev-2")
    finally:
        structlog.reset_defaults()
    out = stream.getvalue()
    assert "at-console-secret" not in out
    assert "ev-2" in out


def test_pipeline_scrubs_exception_text(json_log: io.StringIO) -> None:
    """log.exception never writes the credentials an exception message carries."""
    try:
        raise RuntimeError(
            "Client error '403' for url 'https://api.auvo.com.br/v2/login/?apiKey=ak-exc&apiToken=at-exc'"
        )
    except RuntimeError:
        get_logger("test").exception("login failed")
    raw = json_log.getvalue()
    assert "RuntimeError" in raw
    assert "ak-exc" not in raw and "at-exc" not in raw


@pytest.mark.parametrize("value", [b"at-bytes-secret", 918273645501])
def test_pipeline_redacts_non_string_secret_values(json_log: io.StringIO, value: object) -> None:
    """Whatever the type, a value under a secret key is not written."""
    get_logger("test").info("x", access_token=value)
    (entry,) = lines(json_log)
    assert entry["access_token"] == REDACTED
