"""Auvo quotations in the configured stage -> `auvo.quote.status_reached` events.

Read: Auvo's quotation has no modification stamp and its list no "changed since" filter, so each
pass reads the quotations requested in the last `lookback_days` (narrowed on Auvo's side by the
`CurrentStage` name filter when a stage is configured). Select: `task_selection.select_quote`
(pure; the exact stage, since Auvo's filter matches by "contains"). Publish: the content
fingerprint is the change's identity, so a re-read of an unchanged quotation is the same event id
(dropped here by the recent-ids memory, and by the consumers' processed table after a restart),
and a quotation that changes while in the stage (items, values, its `taskID`) is a new event.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts.events import auvo_quote_status_reached
from infra.auvo.wire import to_auvo_datetime
from producers.decisions import DecisionLog, HistorySink
from producers.polling import EventPublisher, RecentlyPublished, publish_new
from producers.task_selection import QuoteRules, quote_stage, why_not_quote


class AuvoQuoteSource(Protocol):
    def iter_quotations(self, param_filter: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]: ...


def quote_version(record: dict[str, Any]) -> str:
    """A stable hash of the quotation as Auvo returned it."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def quote_filter(rules: QuoteRules, now: datetime, lookback_days: int) -> dict[str, Any]:
    param_filter: dict[str, Any] = {"requestStartDate": to_auvo_datetime(now - timedelta(days=lookback_days))}
    if rules.stage and not rules.stage.strip().isdigit():
        param_filter["CurrentStage"] = rules.stage.strip()
    return param_filter


class AuvoQuotePoller:
    name = "auvo.quotations"

    def __init__(
        self,
        auvo: AuvoQuoteSource,
        publisher: EventPublisher,
        rules: QuoteRules,
        *,
        tenant: str = "default",
        lookback_days: int = 90,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        store: HistorySink | None = None,
    ) -> None:
        """`store`: where each quotation's decisions go for its story (none: not kept)."""
        self.auvo = auvo
        self.publisher = publisher
        self.rules = rules
        self.tenant = tenant
        self.lookback_days = lookback_days
        self.clock = clock
        self.recent = RecentlyPublished()
        self.filtered: Counter[str] = Counter()
        self.decisions = DecisionLog(store, tenant, "auvo.quotation")

    def poll_once(self) -> int:
        if not self.rules.enabled:
            return 0
        now = self.clock().replace(microsecond=0)
        published = 0
        for record in self.auvo.iter_quotations(quote_filter(self.rules, now, self.lookback_days)):
            reason = why_not_quote(record, self.rules)
            version = quote_version(record)
            if reason is not None:
                self.filtered[reason] += 1
                stage = quote_stage(record).get("description")
                self.decisions.left_out(str(record.get("publicId")), version, reason, stage=stage)
                continue
            envelope = auvo_quote_status_reached(
                record, observed_at=now, content_version=version, tenant=self.tenant
            )
            published += publish_new(self.publisher, self.recent, envelope)
            self.decisions.published(envelope)
        self.decisions.flush()
        return published
