"""Bling access tokens for every process, refreshed by exactly one of them at a time.

Bling refresh tokens rotate and are single-use: if two processes refresh with the same refresh
token, the second gets `invalid_grant` and the grant looks revoked. So a refresh happens only
under a store lock, and whoever gets the lock first re-reads the store: if another process has
already refreshed, it simply uses the new token. Token calls also take a slot under the IP-wide
token ceiling (infra/egress.py: Bling blocks the IP for an hour after 20 token calls in 60 s,
counted over every tenant), and happen ahead of expiry at a tenant's own point of a margin
proportional to the token's lifetime (infra/bling/refresh_timing.py), so tenants whose tokens
expire together do not refresh together.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from infra.bling.oauth import TokenSet
from infra.bling.refresh_timing import refresh_due_at, still_usable
from infra.egress import BlingEgress
from infra.errors import BlingNotAuthorized, EntityBusy, RateLimited
from infra.logging import get_logger
from infra.store import Store
from infra.token_vault import TokenVault

PROVIDER = "bling"
# The refresh lock outlives the longest wait for a token slot (SQLite lease; PostgreSQL's advisory
# lock has no expiry): a lease that lapsed while its holder waited would let a second process of
# the tenant refresh with the same single-use refresh token.
MAX_TOKEN_SLOT_WAIT_S = 600.0
REFRESH_LOCK_TTL_S = MAX_TOKEN_SLOT_WAIT_S + 120.0

RefreshFn = Callable[[str], TokenSet]

log = get_logger("bling.tokens")


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StoredBlingTokens:
    """Implements the Bling client's token source on top of the vault and the store lock."""

    def __init__(
        self,
        vault: TokenVault,
        store: Store,
        refresh: RefreshFn,
        *,
        tenant: str,
        egress: BlingEgress | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.vault = vault
        self.store = store
        self._refresh = refresh
        self.tenant = tenant
        self.egress = egress if egress is not None else BlingEgress(store)
        self._now = now
        self._cached: TokenSet | None = None
        # a due refresh that found no token slot while the token was still usable: not before this
        self._retry_at: datetime | None = None
        self._lock = threading.Lock()
        self.refreshes = 0

    def access_token(self) -> str:
        with self._lock:
            tokens = self._cached
            if tokens is None or self._due(tokens):
                tokens = self._load()
                if self._due(tokens):
                    tokens = self._refresh_once(stale_access=tokens.access_token)
                self._cached = tokens
            return tokens.access_token

    def refreshed_after_rejection(self, rejected: str) -> str:
        """Bling said 401 for `rejected`: use a newer token if there is one, else refresh."""
        with self._lock:
            tokens = self._load()
            if tokens.access_token == rejected:
                tokens = self._refresh_once(stale_access=rejected, rejected=True)
            self._cached = tokens
            return tokens.access_token

    def expires_at(self) -> str | None:
        tokens = self.vault.load(PROVIDER)
        return tokens.expires_at.isoformat() if tokens else None

    def _due(self, tokens: TokenSet) -> bool:
        now = self._now()
        if now < refresh_due_at(tokens, self.tenant):
            return False
        return self._retry_at is None or now >= self._retry_at or not still_usable(tokens, now)

    def _load(self) -> TokenSet:
        tokens = self.vault.load(PROVIDER)
        if tokens is None:
            raise BlingNotAuthorized("no Bling authorization stored for this tenant")
        return tokens

    def _refresh_once(self, *, stale_access: str, rejected: bool = False) -> TokenSet:
        name = f"{self.tenant}:bling-token-refresh"
        with self.store.lock(name, process_owner(), ttl_seconds=REFRESH_LOCK_TTL_S, wait_seconds=45.0) as got:
            if not got:
                raise EntityBusy("another process is refreshing the Bling token")
            current = self._load()
            if current.access_token != stale_access and not self._due(current):
                return current  # someone else refreshed while we waited
            usable = not rejected and still_usable(current, self._now())
            try:
                # a token that still works is used on while the IP's token calls are all taken
                self.egress.before_token_call(max_wait=0.0 if usable else MAX_TOKEN_SLOT_WAIT_S)
            except RateLimited as exc:
                if not usable:
                    raise
                self._retry_at = self._now() + timedelta(seconds=exc.retry_after or 1.0)
                return current
            try:
                fresh = self._refresh(current.refresh_token)
            except Exception as exc:
                status = getattr(exc, "http_status", None)
                if isinstance(status, int):
                    self.egress.answered(status)
                raise
            self.vault.save(PROVIDER, fresh)
            self._retry_at = None
            self.refreshes += 1
            log.info(
                "bling_token_refreshed",
                tenant=self.tenant,
                expires_at=fresh.expires_at.isoformat(),
                renew_from=refresh_due_at(fresh, self.tenant).isoformat(),
            )
            return fresh
