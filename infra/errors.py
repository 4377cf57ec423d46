"""Typed failures shared by the API clients, the handlers and the bus runner.

Handlers never decide retries: they raise one of these and the bus runner maps the class to
"retry later" (TransientError) or "dead-letter now with a diagnosis" (PermanentError). Every
error carries what an operator needs to act on it (HTTP status, the API's own error type and
field errors, and a hint), and nothing secret: messages are built from API error bodies and our
own words, never from request headers or credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One field-level complaint of an API (Bling's `error.fields[]`)."""

    code: Any = None
    msg: str = ""
    element: str | None = None
    namespace: str | None = None
    collection: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


class IntegrationError(Exception):
    """Base of every failure the bus runner knows how to classify."""

    transient: bool = False
    default_hint: str = ""
    # The whole account is unusable (API deactivated, authorization revoked): every event of the
    # tenant would fail the same way, so the tenant is paused instead of failing them one by one.
    pauses_tenant: bool = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        api_error_type: str | None = None,
        field_errors: list[FieldError] | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.api_error_type = api_error_type
        self.field_errors = list(field_errors or [])
        self.hint = hint if hint is not None else self.default_hint
        self.retry_after = retry_after

    @property
    def error_class(self) -> str:
        return type(self).__name__

    def diagnosis(self) -> dict[str, Any]:
        """The fields a dead-letter message and a log line carry about this failure."""
        out: dict[str, Any] = {"error_class": self.error_class, "error_message": self.message}
        if self.http_status is not None:
            out["http_status"] = self.http_status
        if self.api_error_type:
            out["api_error_type"] = self.api_error_type
        if self.field_errors:
            out["field_errors"] = [f.as_dict() for f in self.field_errors]
        if self.hint:
            out["hint"] = self.hint
        return out


class TransientError(IntegrationError):
    """Worth retrying later: the same request may succeed without anyone changing anything."""

    transient = True


class PermanentError(IntegrationError):
    """Retrying will not help until a person fixes something; goes straight to the DLQ."""

    transient = False


# --- transient -------------------------------------------------------------------------------


class RateLimited(TransientError):
    default_hint = "the API's rate limit was hit; the message is retried with backoff"


class ApiUnavailable(TransientError):
    default_hint = "the API timed out, refused the connection or answered 5xx; retried with backoff"


class AuvoIndexNotReady(TransientError):
    default_hint = (
        "the index of Auvo's customers is not built yet (the producer's first pass over Auvo): "
        "check that `auvo-bling produce` runs and reaches Auvo (`auvo-bling check`), then replay"
    )


class UnexpectedError(TransientError):
    """A bug or an unclassified failure: retried a bounded number of times, then dead-lettered."""

    default_hint = "an unexpected error; retried, then dead-lettered; report it with this message"


class EntityBusy(TransientError):
    default_hint = "another consumer holds the lock on this entity; retried shortly"


class DatabaseBusy(TransientError):
    """Every connection of the process's pool stayed in use for the whole pool timeout."""

    default_hint = (
        "every database connection of this process was in use (pool exhausted); retried without "
        "spending an attempt; if it persists, the pool is too small for the threads (see README)"
    )


class QuotaBusy(TransientError):
    """The account's request bucket is booked further ahead than a shared consumer waits: the
    event is set aside (a delay queue, no attempt spent) so the thread takes another company's."""

    default_hint = (
        "the company's API quota is taken for the next seconds (its other events, a 429 pause); "
        "set aside and retried without spending an attempt, so other companies are not kept waiting"
    )


class DailyQuota(TransientError):
    """The day's Bling calls are spent: nothing is wrong with the event, it must wait for the
    quota. Transient (never dead-lettered) and pausing: the tenant waits for a probe or the day to
    turn instead of every event retrying into the same answer."""

    pauses_tenant = True


class DailyQuotaExhausted(DailyQuota):
    """Bling answered its daily limit (429 whose description mentions "diário")."""

    default_hint = (
        "Bling's daily request limit for the account is spent (other apps share it): the tenant "
        "pauses, probes Bling every few minutes and resumes by itself when it answers or at midnight "
        "Brasília; nothing to do unless this happens every day (lower daily_budget_share, or ask the "
        "account's other apps to spend less)"
    )


class DailyBudgetSpent(DailyQuota):
    """This integration spent its share of the account's daily quota (bling.daily_budget_share)."""

    never_sent = True  # refused by our throttle before the request left: nothing can be in doubt

    default_hint = (
        "this integration's share of Bling's daily quota is spent: the tenant resumes by itself at "
        "midnight Brasília (or at once if bling.daily_budget_share is raised)"
    )


class BudgetReservedForWrites(TransientError):
    """A poll or a backfill call refused because only the reserve for live changes is left."""

    never_sent = True

    default_hint = (
        "only the part of the daily Bling budget kept for live changes is left: polls and backfills "
        "wait for the next Bling day (midnight Brasília)"
    )


# --- permanent -------------------------------------------------------------------------------


class ContractViolation(PermanentError):
    default_hint = "the message body does not match its contract; fix the producer, then replay or purge"


class ApiRejected(PermanentError):
    default_hint = "the API refused the data (validation); fix the source record, then replay"


class NotFound(PermanentError):
    default_hint = "the record no longer exists in the target system"


class IdMapConflict(PermanentError):
    default_hint = (
        "two different records claim the same counterpart; inspect both systems, fix the link, then replay"
    )


class AmbiguousMatch(PermanentError):
    """More than one record could be the counterpart: guessing links the wrong customer, creating
    makes a duplicate someone must merge by hand in two systems, so a person decides."""

    default_hint = (
        "several records share this CPF/CNPJ or e-mail: merge the duplicates, or correct the document "
        "or e-mail of the ones that are other customers, then replay"
    )


class UnmappedProduct(PermanentError):
    """No Bling produto could be chosen for an Auvo product or service: none matched while
    `catalog.unmatched = "hold"`, or several did. Creating one would put a shadow produto (no NCM,
    no stock, a duplicate of the company's own) on a pedido that must be invoiced, so a person picks.

    `item` and `candidates` (Bling produto ids with the rule that found each) are kept for tests
    and logs; the message names them too, so the dead letter says what was found."""

    default_hint = (
        "preencha o código do produto no Auvo (igual ao código/SKU no Bling) ou mapeie com "
        "`auvo-bling products map KIND AUVO_ID BLING_ID`, depois reenvie (`auvo-bling dlq replay`) / "
        "fill the Auvo product's code (equal to its code/SKU in Bling) or map it with "
        "`auvo-bling products map KIND AUVO_ID BLING_ID`, then replay (`auvo-bling dlq replay`)"
    )

    def __init__(
        self,
        message: str,
        *,
        item: dict[str, str] | None = None,
        candidates: list[dict[str, str]] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.item = dict(item or {})
        self.candidates = list(candidates or [])


class AuvoCredentialsInvalid(PermanentError):
    pauses_tenant = True
    default_hint = "wrong Auvo API key or token: check AUVO_BLING_AUVO__API_KEY / __API_TOKEN, then replay"


class AuvoApiDeactivated(PermanentError):
    pauses_tenant = True
    default_hint = "the Auvo API is deactivated: turn it on in Auvo > Integrações, then replay"


class BlingNotAuthorized(PermanentError):
    pauses_tenant = True
    default_hint = "Bling is not authorized yet: run `auvo-bling authorize`, then replay"


class BlingAuthorizationRevoked(PermanentError):
    pauses_tenant = True
    default_hint = (
        "the Bling authorization can no longer be refreshed: re-authorize with `auvo-bling authorize`"
    )


class BlingScopeMissing(PermanentError):
    default_hint = (
        "the Bling app lacks a scope: add it in the app's page, re-authorize with `auvo-bling authorize`"
    )


class TenantPaused(PermanentError):
    default_hint = (
        "the tenant is paused (its credentials broke); fix the cause shown by `auvo-bling tenants list`, "
        "then `auvo-bling tenants resume <tenant>` replays these"
    )


class TenantMismatch(PermanentError):
    default_hint = (
        "an event of one tenant reached another tenant's queue; it was not written with the wrong "
        "credentials: check the publisher's bus prefix, then replay it into the right tenant's queue"
    )


class FlowOff(PermanentError):
    default_hint = (
        "the tenant's company options turn this flow off, so its event was not handled; turn the "
        "flow on in the console (or the tenant's settings), then replay it"
    )


# pauses that end by themselves (a probe answers, the Bling day turns): their events are held, not parked
QUOTA_PAUSE_CLASSES = ("DailyQuotaExhausted", "DailyBudgetSpent")

# what `tenants resume` replays: what the pause parked and what caused the pause
PAUSE_ERROR_CLASSES = (
    "TenantPaused",
    "AuvoCredentialsInvalid",
    "AuvoApiDeactivated",
    "BlingNotAuthorized",
    "BlingAuthorizationRevoked",
)


class ConfigurationError(Exception):
    """Settings that cannot work; reported as one line at start with exit code 2."""
