"""Structured logs: JSON in production, readable in a terminal, secrets never written.

Redaction is a processor in the chain, not a convention: any key that looks like a credential is
masked, and any string value is scrubbed of bearer tokens and `apiKey=`/`apiToken=`/`secret`
query parameters, so a careless `log.info(..., url=...)` cannot leak.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|cookie|refresh|access[_-]?token|code_verifier)",
    re.IGNORECASE,
)
_SCRUB_PATTERNS = [
    (re.compile(r"(Bearer\s+)[A-Za-z0-9\-._~+/=]+", re.IGNORECASE), r"\1***"),
    (re.compile(r"(Basic\s+)[A-Za-z0-9+/=]+", re.IGNORECASE), r"\1***"),
    (
        re.compile(
            r"(?<![A-Za-z0-9])((?:apiKey|apiToken|api_key|client_secret|access_token|refresh_token|id_token"
            r"|token|password|secret)=)[^&\s\"']+",
            re.IGNORECASE,
        ),
        r"\1***",
    ),
    # `code=` only as a whole word: an OAuth code, not statusCode= / zipcode= / error_code=
    (re.compile(r"\b(code=)[^&\s\"']+", re.IGNORECASE), r"\1***"),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1***@"),
]
REDACTED = "***"


def scrub(text: str) -> str:
    """Remove credentials from free text (URLs, headers echoed in messages)."""
    for pattern, repl in _SCRUB_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    secret_key = bool(SECRET_KEYS.search(key)) and key not in _NOT_SECRET
    if secret_key and isinstance(value, str | bytes | int | float) and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


# Keys that match the pattern but hold no secret and are useful to see.
_NOT_SECRET = {"token_expires_at", "token_calls"}


def _redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = redact_value(key, event_dict[key])
    return event_dict


def configure_logging(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    """Configure structlog once per process; `auto` picks console on a TTY, JSON otherwise."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # tracebacks become text first, so the redaction below scrubs them too
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
