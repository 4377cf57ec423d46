"""The integration's memory, on SQLAlchemy Core: SQLite by default, PostgreSQL in production.

Everything that must survive a crash and be shared by every process lives here: the id map
(which Auvo record is which Bling record), processed event ids (so a redelivery is a no-op),
applied versions (so a stale event is dropped), poll cursors, encrypted OAuth tokens, named
locks (per-entity, token refresh, producer leader), rate-limit buckets, Bling calls per tenant
and Bling day (the daily budget) and echo fingerprints.
Every key starts with the tenant so accounts can never mix.

SQLite is run with `BEGIN IMMEDIATE` and WAL so several processes on one machine serialise
their writes instead of failing with "database is locked"; PostgreSQL uses row locks.
"""

from infra.store.base import StoreBase, normalise_database_url
from infra.store.cursors import Cursors
from infra.store.daily_budget import DailyCharge, DailyLimitReached
from infra.store.idempotency import Idempotency
from infra.store.links import IdPair, Links
from infra.store.locks import Locks, owner_alive
from infra.store.rate_buckets import RateBuckets
from infra.store.tables import metadata
from infra.store.tenants import TenantPause, Tenants

__all__ = [
    "DailyCharge",
    "DailyLimitReached",
    "IdPair",
    "Store",
    "StoreBase",
    "TenantPause",
    "metadata",
    "normalise_database_url",
    "owner_alive",
]


class Store(Idempotency, Links, Cursors, Tenants, Locks, RateBuckets, StoreBase):
    """All state the processes share. Methods are small transactions; `transaction()` groups them.

    One concern per mixin (infra/store/<concern>.py); callers only ever see `Store`."""
