"""The cause of a dead letter as a short key: ten thousand letters of one outage are one group.

Two dead letters share a fingerprint when the same consumer failed with the same error class and a
diagnosis that reads the same once what differs per record is taken out: ids, numbers, uuids,
e-mail addresses, dates and times. Pure, so the runner (when it dead-letters), `dlq reindex` (from
the queue) and the index's readers all compute the same key.
"""

from __future__ import annotations

import hashlib
import re

# order matters: a uuid or a date is taken out before its digits would be read as numbers
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"),
        "<date>",
    ),
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b"), "<time>"),
    (re.compile(r"\b(?:sha256:)?[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w-])[\w-]*\d[\w-]*"), "<n>"),  # numbers and ids with digits in them: 123, 8f3a1, a-17
)
_SPACE = re.compile(r"\s+")


def diagnosis_shape(text: str) -> str:
    """The diagnosis with what varies per record stripped, in one spacing: what people compare."""
    shaped = text
    for pattern, token in _SHAPES:
        shaped = pattern.sub(token, shaped)
    return _SPACE.sub(" ", shaped).strip()


def fingerprint(error_class: str, consumer: str, diagnosis: str) -> str:
    """`fp:` and 16 hex digits of (error class, consumer, diagnosis shape)."""
    key = "\x1f".join((error_class, consumer, diagnosis_shape(diagnosis)))
    return "fp:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
