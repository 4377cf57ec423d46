"""Bling access tokens for every process, refreshed by exactly one of them at a time.

Bling refresh tokens rotate and are single-use: if two processes refresh with the same refresh
token, the second gets `invalid_grant` and the grant looks revoked. So a refresh happens only
under a store lock, and whoever gets the lock first re-reads the store: if another process has
already refreshed, it simply uses the new token. Token calls also pass a shared limiter (Bling
blocks the IP for an hour after 20 token calls in 60 s).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable

from infra.bling.oauth import TokenSet
from infra.errors import BlingNotAuthorized, EntityBusy
from infra.store import Store
from infra.token_vault import TokenVault

PROVIDER = "bling"
REFRESH_MARGIN_SECONDS = 300.0
TOKEN_CALLS_PER_MINUTE = 20

RefreshFn = Callable[[str], TokenSet]


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class StoredBlingTokens:
    """Implements the Bling client's token source on top of the vault and the store lock."""

    def __init__(self, vault: TokenVault, store: Store, refresh: RefreshFn, *, tenant: str) -> None:
        self.vault = vault
        self.store = store
        self._refresh = refresh
        self.tenant = tenant
        self._cached: TokenSet | None = None
        self._lock = threading.Lock()
        self.refreshes = 0

    def access_token(self) -> str:
        with self._lock:
            tokens = self._cached
            if tokens is None or tokens.expires_within(REFRESH_MARGIN_SECONDS):
                tokens = self._load()
                if tokens.expires_within(REFRESH_MARGIN_SECONDS):
                    tokens = self._refresh_once(stale_access=tokens.access_token)
                self._cached = tokens
            return tokens.access_token

    def refreshed_after_rejection(self, rejected: str) -> str:
        """Bling said 401 for `rejected`: use a newer token if there is one, else refresh."""
        with self._lock:
            tokens = self._load()
            if tokens.access_token == rejected:
                tokens = self._refresh_once(stale_access=rejected)
            self._cached = tokens
            return tokens.access_token

    def expires_at(self) -> str | None:
        tokens = self.vault.load(PROVIDER)
        return tokens.expires_at.isoformat() if tokens else None

    def _load(self) -> TokenSet:
        tokens = self.vault.load(PROVIDER)
        if tokens is None:
            raise BlingNotAuthorized("no Bling authorization stored for this tenant")
        return tokens

    def _refresh_once(self, *, stale_access: str) -> TokenSet:
        name = f"{self.tenant}:bling-token-refresh"
        with self.store.lock(name, process_owner(), ttl_seconds=60.0, wait_seconds=45.0) as got:
            if not got:
                raise EntityBusy("another process is refreshing the Bling token")
            current = self._load()
            if current.access_token != stale_access and not current.expires_within(REFRESH_MARGIN_SECONDS):
                return current  # someone else refreshed while we waited
            wait = self.store.reserve_slot(
                f"{self.tenant}:bling-token-calls", 60.0 / TOKEN_CALLS_PER_MINUTE, TOKEN_CALLS_PER_MINUTE
            )
            if wait > 0:
                time.sleep(wait)
            fresh = self._refresh(current.refresh_token)
            self.vault.save(PROVIDER, fresh)
            self.refreshes += 1
            return fresh
