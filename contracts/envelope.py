"""The envelope every message on the bus carries, and its JSON encoding.

The envelope is what lets consumers be idempotent and order-independent without knowing
anything about AMQP: `event_id` is derived from what happened (not from when it was seen), so a
re-poll or a webhook and a poll of the same change produce the same id; `entity_version` lets a
consumer drop an event older than what it already applied. `tenant` is here from day one so
that store keys and credentials can never be mixed between accounts later.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1

# A fixed namespace so the same (source, entity, version, status) gives the same UUID on every
# machine and in every release.
EVENT_NAMESPACE = uuid.UUID("5b0c6a43-0e4e-4bd7-9a55-3f8f1c3b2a10")


class MalformedMessage(ValueError):
    """A body that is not a valid envelope: a permanent failure for the runner, never a crash."""


def event_id_for(source: str, entity_id: str, version: str, status: str = "") -> str:
    """Deterministic id of one observed change: the same change always yields the same id."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{source}|{entity_id}|{version}|{status}"))


class Envelope(BaseModel):
    """One change event. `payload` is validated against the event type's model on demand."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str
    type: str
    schema_version: int = SCHEMA_VERSION
    occurred_at: datetime
    source: str
    tenant: str = "default"
    entity_id: str
    entity_version: str
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> Envelope:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedMessage(f"body is not JSON: {exc}") from None
        except RecursionError:  # no ValueError: the decoder gives up on nesting past the recursion limit
            raise MalformedMessage("body is JSON nested too deep") from None
        if not isinstance(data, dict):
            raise MalformedMessage("body is not a JSON object")
        try:
            envelope = cls.model_validate(data)
        except ValidationError as exc:
            raise MalformedMessage(_short(exc)) from None
        if envelope.schema_version > SCHEMA_VERSION:
            raise MalformedMessage(
                f"schema_version {envelope.schema_version} is newer than this consumer understands "
                f"({SCHEMA_VERSION}); upgrade the consumers, then replay"
            )
        return envelope


def utcnow() -> datetime:
    return datetime.now(UTC)


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid envelope: " + "; ".join(parts)
