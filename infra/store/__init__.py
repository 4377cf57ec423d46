"""The integration's memory, on SQLAlchemy Core: SQLite by default, PostgreSQL in production.

Everything that must survive a crash and be shared by every process lives here: the id map
(which Auvo record is which Bling record), processed event ids (so a redelivery is a no-op),
applied versions (so a stale event is dropped), poll cursors, encrypted OAuth tokens, named
locks (per-entity, token refresh, producer leader), rate-limit buckets, Bling calls per tenant
and Bling day (the daily budget), IP-wide request windows, company options and the audit log,
console users and sessions, process heartbeats and the per-minute flow history, echo
fingerprints, the tenants added without a config file, the dead-letter index and its
operations, and each record's history (what was seen, decided and done: the console's "Por que
não integrou?").
Every key starts with the tenant so accounts can never mix.

SQLite is run with `BEGIN IMMEDIATE` and WAL so several processes on one machine serialise
their writes instead of failing with "database is locked"; PostgreSQL uses row locks.
"""

from infra.store.base import StoreBase, normalise_database_url
from infra.store.console_access import ConsoleAccess
from infra.store.cursors import Cursors
from infra.store.daily_budget import DailyCharge, DailyLimitReached
from infra.store.dead_letters import DeadLetterEntry, DeadLetters, FailureGroup, IndexQuery, LetterState
from infra.store.dlq_operations import DlqOperation, DlqOperations
from infra.store.egress_windows import EgressWindows, WindowCheck, WindowClaim, WindowsFull
from infra.store.heartbeats import FlowMinute, Heartbeats, ProcessBeat
from infra.store.history import History, HistoryRow
from infra.store.idempotency import EntityState, Idempotency, StateFacts, StateReads
from infra.store.links import IdPair, Links
from infra.store.locks import LockHold, Locks, owner_alive
from infra.store.options import AuditEntry, CompanyOptions, OptionsRevision, ProcessApplied, StoredOption
from infra.store.product_mappings import KnownProducts, ProductMapping, ProductMappings
from infra.store.rate_buckets import BucketBooked, RateBuckets
from infra.store.tables import metadata
from infra.store.tenant_registry import RegisteredTenant, TenantRegistry
from infra.store.tenants import TenantPause, Tenants

__all__ = [
    "AuditEntry",
    "BucketBooked",
    "DailyCharge",
    "DailyLimitReached",
    "DeadLetterEntry",
    "DlqOperation",
    "EntityState",
    "FailureGroup",
    "FlowMinute",
    "HistoryRow",
    "IdPair",
    "IndexQuery",
    "KnownProducts",
    "LetterState",
    "LockHold",
    "OptionsRevision",
    "ProcessApplied",
    "ProcessBeat",
    "ProductMapping",
    "RegisteredTenant",
    "StateFacts",
    "StateReads",
    "Store",
    "StoreBase",
    "StoredOption",
    "TenantPause",
    "WindowCheck",
    "WindowClaim",
    "WindowsFull",
    "metadata",
    "normalise_database_url",
    "owner_alive",
]


class Store(
    ConsoleAccess,
    Idempotency,
    Links,
    ProductMappings,
    Cursors,
    Tenants,
    TenantRegistry,
    CompanyOptions,
    Locks,
    RateBuckets,
    EgressWindows,
    History,
    DeadLetters,
    DlqOperations,
    Heartbeats,
    StoreBase,
):
    """All state the processes share. Methods are small transactions; `transaction()` groups them.

    One concern per mixin (infra/store/<concern>.py); callers only ever see `Store`."""
