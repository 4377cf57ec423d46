"""Encrypted Bling tokens in the store, and a refresh that happens exactly once across threads/processes."""

from __future__ import annotations

import functools
import multiprocessing
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from infra.bling.oauth import TokenSet
from infra.bling.tokens import PROVIDER, StoredBlingTokens
from infra.errors import BlingNotAuthorized, ConfigurationError
from infra.store import Store
from infra.token_vault import TokenVault, fernet_for

TENANT = "acme"
KEY = "a long random passphrase for the tests 7f3c"
OLD_ACCESS = "old-access-token-5b1e2d"
OLD_REFRESH = "old-refresh-token-9c4a11"
NEW_ACCESS = "new-access-token-0a7f33"
NEW_REFRESH = "new-refresh-token-66d0e2"


def token_set(access: str, refresh: str, *, expires_in: float = 6 * 3600) -> TokenSet:
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        scope=["contatos", "pedidos.vendas"],
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tokens.sqlite3'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def vault(store: Store) -> TokenVault:
    return TokenVault(store, TENANT, KEY)


class CountingRefresh:
    """A fake token endpoint: records the refresh tokens it was given, returns a new set."""

    def __init__(self, result: TokenSet, delay: float = 0.0) -> None:
        self.result = result
        self.delay = delay
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, refresh_token: str) -> TokenSet:
        with self._lock:
            self.calls.append(refresh_token)
        if self.delay:
            time.sleep(self.delay)
        return self.result


# --- the vault -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [KEY, Fernet.generate_key().decode(), "x"])
def test_tokens_are_encrypted_at_rest(store: Store, key: str) -> None:
    """The store holds ciphertext only: neither token appears in what the database sees."""
    TokenVault(store, TENANT, key).save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    raw = store.load_token(TENANT, PROVIDER)
    assert raw is not None
    assert OLD_ACCESS not in raw and OLD_REFRESH not in raw
    assert "access_token" not in raw
    assert fernet_for(key).decrypt(raw.encode())  # it is a Fernet token for that key


def test_load_round_trips(vault: TokenVault) -> None:
    """What was saved comes back equal (tokens, expiry with its timezone, scope, type)."""
    saved = token_set(OLD_ACCESS, OLD_REFRESH)
    vault.save(PROVIDER, saved)
    loaded = vault.load(PROVIDER)
    assert loaded == saved
    assert loaded is not None and loaded.expires_at.tzinfo is not None
    assert loaded.access_token == OLD_ACCESS and loaded.refresh_token == OLD_REFRESH


def test_save_overwrites(vault: TokenVault) -> None:
    """A refreshed set replaces the old one."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    vault.save(PROVIDER, token_set(NEW_ACCESS, NEW_REFRESH))
    loaded = vault.load(PROVIDER)
    assert loaded is not None and loaded.access_token == NEW_ACCESS


def test_load_nothing_stored(vault: TokenVault) -> None:
    """Nothing saved -> None (not an error)."""
    assert vault.load(PROVIDER) is None


def test_tenants_do_not_share_tokens(store: Store) -> None:
    """Another tenant neither sees nor overwrites this tenant's tokens."""
    TokenVault(store, "acme", KEY).save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    assert TokenVault(store, "other", KEY).load(PROVIDER) is None
    TokenVault(store, "other", KEY).save(PROVIDER, token_set(NEW_ACCESS, NEW_REFRESH))
    loaded = TokenVault(store, "acme", KEY).load(PROVIDER)
    assert loaded is not None and loaded.access_token == OLD_ACCESS


def test_different_key_is_a_configuration_error(store: Store, vault: TokenVault) -> None:
    """Decrypting with another key says the key changed, without echoing any secret."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    with pytest.raises(ConfigurationError) as info:
        TokenVault(store, TENANT, "another passphrase").load(PROVIDER)
    message = str(info.value)
    assert "AUVO_BLING_SECRET_KEY" in message
    assert KEY not in message and OLD_ACCESS not in message


@pytest.mark.parametrize("missing_key", [None, ""])
def test_no_key_refuses_to_save(store: Store, missing_key: str | None) -> None:
    """Without a key nothing is written, and the error names the setting."""
    with pytest.raises(ConfigurationError, match="AUVO_BLING_SECRET_KEY"):
        TokenVault(store, TENANT, missing_key).save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    assert store.load_token(TENANT, PROVIDER) is None


def test_no_key_cannot_load_stored_tokens(store: Store, vault: TokenVault) -> None:
    """Stored tokens without a key to read them is a configuration error too."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    with pytest.raises(ConfigurationError, match="AUVO_BLING_SECRET_KEY"):
        TokenVault(store, TENANT, None).load(PROVIDER)


# --- StoredBlingTokens ---------------------------------------------------------------------------


def test_not_authorized_without_stored_tokens(vault: TokenVault, store: Store) -> None:
    """No stored authorization -> BlingNotAuthorized (a permanent error with the authorize hint)."""
    refresh = CountingRefresh(token_set(NEW_ACCESS, NEW_REFRESH))
    tokens = StoredBlingTokens(vault, store, refresh, tenant=TENANT)
    with pytest.raises(BlingNotAuthorized) as info:
        tokens.access_token()
    assert "authorize" in info.value.hint
    with pytest.raises(BlingNotAuthorized):
        tokens.refreshed_after_rejection(OLD_ACCESS)
    assert tokens.expires_at() is None
    assert refresh.calls == []


def test_valid_token_is_used_without_refresh(vault: TokenVault, store: Store) -> None:
    """A 6-hour token with more than a fifth of its life left is returned as is."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH, expires_in=73 * 60))
    refresh = CountingRefresh(token_set(NEW_ACCESS, NEW_REFRESH))
    tokens = StoredBlingTokens(vault, store, refresh, tenant=TENANT)
    assert tokens.access_token() == OLD_ACCESS
    assert tokens.access_token() == OLD_ACCESS
    assert refresh.calls == []
    assert tokens.expires_at() is not None


@pytest.mark.parametrize("expires_in", [17 * 60, 1, -3600])
def test_token_expiring_soon_is_refreshed_once(vault: TokenVault, store: Store, expires_in: float) -> None:
    """Past every tenant's refresh point (a 6-hour token: 18 minutes before expiry at the latest),
    or expired: one refresh with the stored refresh token, then reuse."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH, expires_in=expires_in))
    refresh = CountingRefresh(token_set(NEW_ACCESS, NEW_REFRESH))
    tokens = StoredBlingTokens(vault, store, refresh, tenant=TENANT)
    assert tokens.access_token() == NEW_ACCESS
    assert tokens.access_token() == NEW_ACCESS
    assert refresh.calls == [OLD_REFRESH]
    assert tokens.refreshes == 1
    stored = vault.load(PROVIDER)
    assert stored is not None and stored.refresh_token == NEW_REFRESH  # the rotated refresh token is kept
    # a second process starting now reads the new token without refreshing again
    other = CountingRefresh(token_set("x", "y"))
    assert StoredBlingTokens(vault, store, other, tenant=TENANT).access_token() == NEW_ACCESS
    assert other.calls == []


def test_refreshed_after_rejection_refreshes_the_rejected_token(vault: TokenVault, store: Store) -> None:
    """401 for the token that is still stored -> refresh (even though it is not near expiry)."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    refresh = CountingRefresh(token_set(NEW_ACCESS, NEW_REFRESH))
    tokens = StoredBlingTokens(vault, store, refresh, tenant=TENANT)
    assert tokens.refreshed_after_rejection(OLD_ACCESS) == NEW_ACCESS
    assert refresh.calls == [OLD_REFRESH]
    assert tokens.access_token() == NEW_ACCESS  # cached afterwards


def test_refreshed_after_rejection_reuses_a_newer_stored_token(vault: TokenVault, store: Store) -> None:
    """401 for a token that another process already replaced -> use the stored one, no refresh."""
    vault.save(PROVIDER, token_set(NEW_ACCESS, NEW_REFRESH))
    refresh = CountingRefresh(token_set("newest", "newest-r"))
    tokens = StoredBlingTokens(vault, store, refresh, tenant=TENANT)
    assert tokens.refreshed_after_rejection(OLD_ACCESS) == NEW_ACCESS
    assert refresh.calls == []


def test_rejection_after_a_stale_cache(vault: TokenVault, store: Store) -> None:
    """A process holding a cached old token that gets 401 picks up the other process's refresh."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    mine = CountingRefresh(token_set("mine", "mine-r"))
    tokens = StoredBlingTokens(vault, store, mine, tenant=TENANT)
    assert tokens.access_token() == OLD_ACCESS
    other = CountingRefresh(token_set(NEW_ACCESS, NEW_REFRESH))
    assert StoredBlingTokens(vault, store, other, tenant=TENANT).refreshed_after_rejection(OLD_ACCESS) == (
        NEW_ACCESS
    )
    assert tokens.refreshed_after_rejection(OLD_ACCESS) == NEW_ACCESS
    assert mine.calls == [] and other.calls == [OLD_REFRESH]


def test_failed_refresh_keeps_the_stored_tokens(vault: TokenVault, store: Store) -> None:
    """If the token endpoint fails, the stored set is untouched and the next attempt can refresh."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH, expires_in=10))

    def failing(_: str) -> TokenSet:
        raise RuntimeError("token endpoint down")

    with pytest.raises(RuntimeError):
        StoredBlingTokens(vault, store, failing, tenant=TENANT).access_token()
    stored = vault.load(PROVIDER)
    assert stored is not None and stored.refresh_token == OLD_REFRESH
    refresh = CountingRefresh(token_set(NEW_ACCESS, NEW_REFRESH))
    assert StoredBlingTokens(vault, store, refresh, tenant=TENANT).access_token() == NEW_ACCESS


# --- concurrency ---------------------------------------------------------------------------------


def test_threads_refresh_exactly_once(vault: TokenVault, store: Store) -> None:
    """8 threads, each with its own StoredBlingTokens, all get 401 at once: one refresh, one new token."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    refresh = CountingRefresh(token_set(NEW_ACCESS, NEW_REFRESH), delay=0.1)
    n = 8
    barrier = threading.Barrier(n)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        tokens = StoredBlingTokens(TokenVault(store, TENANT, KEY), store, refresh, tenant=TENANT)
        barrier.wait()
        try:
            token = tokens.refreshed_after_rejection(OLD_ACCESS)
        except BaseException as exc:  # collected and asserted below
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(token)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert refresh.calls == [OLD_REFRESH]
    assert results == [NEW_ACCESS] * n


def _refresh_to_file(calls_file: str, refresh_token: str) -> TokenSet:
    """Token endpoint stand-in usable from another process: one line per call."""
    with open(calls_file, "a", encoding="utf-8") as fh:
        fh.write(refresh_token + "\n")
    time.sleep(0.2)
    return token_set(NEW_ACCESS, NEW_REFRESH)


def collect(out: Any, children: list[Any], timeout: float = 60.0) -> list[Any]:
    """One result per child from the queue; fails fast if a child dies without reporting."""
    results: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(results) < len(children):
        try:
            results.append(out.get(timeout=0.2))
        except queue.Empty:
            dead = [c.exitcode for c in children if c.exitcode not in (None, 0)]
            assert not dead, f"child process failed with exit codes {dead}"
            assert time.monotonic() < deadline, "child processes did not report in time"
    return results


def _process_worker(db_url: str, calls_file: str, start: object, out: object) -> None:
    """Child process: own Store, vault and StoredBlingTokens; report the token it ends up with."""
    store = Store(db_url, create=False)
    tokens = StoredBlingTokens(
        TokenVault(store, TENANT, KEY), store, functools.partial(_refresh_to_file, calls_file), tenant=TENANT
    )
    store.ping()
    start.wait()  # type: ignore[attr-defined]
    try:
        out.put(tokens.refreshed_after_rejection(OLD_ACCESS))  # type: ignore[attr-defined]
    except Exception as exc:
        out.put(f"error: {exc!r}")  # type: ignore[attr-defined]
    finally:
        store.dispose()


def test_processes_refresh_exactly_once(vault: TokenVault, db_url: str, tmp_path: Path) -> None:
    """4 spawned processes on one SQLite file, all rejected at once: the endpoint is called once."""
    vault.save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    calls_file = tmp_path / "refresh-calls.txt"
    calls_file.touch()
    ctx = multiprocessing.get_context("spawn")
    n = 4
    start = ctx.Barrier(n)
    out = ctx.Queue()
    children = [
        ctx.Process(target=_process_worker, args=(db_url, str(calls_file), start, out)) for _ in range(n)
    ]
    for child in children:
        child.start()
    try:
        results = collect(out, children)
    finally:
        for child in children:
            child.join(10)
    assert results == [NEW_ACCESS] * n
    assert calls_file.read_text(encoding="utf-8").splitlines() == [OLD_REFRESH]
    stored = vault.load(PROVIDER)
    assert stored is not None and stored.refresh_token == NEW_REFRESH


def test_a_token_row_moved_to_another_tenant_is_refused(store: Store) -> None:
    """Tenants share the encryption key, so the tenant is sealed inside the ciphertext: a row copied
    under another tenant's name (a bad migration, a hand edit) does not hand it the tokens."""
    TokenVault(store, TENANT, KEY).save(PROVIDER, token_set(OLD_ACCESS, OLD_REFRESH))
    raw = store.load_token(TENANT, PROVIDER)
    assert raw is not None
    store.save_token("other", PROVIDER, raw, None)
    with pytest.raises(ConfigurationError, match=f"issued to tenant '{TENANT}'"):
        TokenVault(store, "other", KEY).load(PROVIDER)
    assert TokenVault(store, TENANT, KEY).load(PROVIDER) is not None
