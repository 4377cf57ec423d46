"""Conflicts in `both` mode: the same customer changed on both sides before either was synced.

Detected without guessing: we remember the fingerprint of the last state we know each side has
(what we wrote there, or last read from it). When an event from one side arrives and the other
side no longer has its known state, both changed: a conflict.

Resolved by the sources' own timestamps, the newer change winning the whole record (record-level
last-writer-wins; the older side's change is overwritten, never the newer one):
- Auvo stamps every customer with `dateLastUpdate` (naive Brasília time);
- Bling's contato carries no stamp, but its list can be filtered by modification time, so "did
  the contato change at or after Auvo's stamp?" is one request: `GET /contatos?idsContatos[]=id
  &dataAlteracaoInicial=<Auvo's stamp>`. Both handlers ask the same question, so they always agree
  on the winner, whichever event is processed first.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from infra.auvo.wire import from_auvo_datetime
from infra.bling.wire import to_bling_datetime


class Decision(Enum):
    UNCHANGED = "unchanged"  # the target already holds the event's data
    WRITE = "write"  # the target still holds what we know: write the event's data
    CONFLICT = "conflict"  # the target changed too since we last synced it


def decide(event_fp: str, target_fp: str, known_target_fp: str | None) -> Decision:
    """What to do with an event, given the target's current and last known fingerprints."""
    if target_fp == event_fp:
        return Decision.UNCHANGED
    if known_target_fp is not None and target_fp != known_target_fp:
        return Decision.CONFLICT
    return Decision.WRITE


def utc_stamp() -> str:
    """Now, in the format of the Bling events' versions (their poll window end, UTC, seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class BlingContactList(Protocol):
    def iter_contacts(self, **filters: Any) -> Iterator[dict[str, Any]]: ...


def bling_changed_since(bling: BlingContactList, contact_id: int | str, auvo_stamp: str | None) -> bool:
    """Whether Bling's last change of the contato is at or after Auvo's `dateLastUpdate`.

    Without an Auvo stamp the Auvo side cannot prove it is newer, so Bling wins.
    """
    if not auvo_stamp:
        return True
    since = from_auvo_datetime(auvo_stamp)
    until = datetime.now(UTC) + timedelta(minutes=1)
    for item in bling.iter_contacts(
        **{"idsContatos[]": [int(contact_id)]},
        dataAlteracaoInicial=to_bling_datetime(since),
        dataAlteracaoFinal=to_bling_datetime(until),
        criterio=1,
    ):
        if str(item.get("id")) == str(contact_id):
            return True
    return False
