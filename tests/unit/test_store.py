"""The store on SQLite (file) and on PostgreSQL: id map, dedupe tables, locks and the shared GCRA bucket.

PostgreSQL is never skipped: if the server of DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test)
is unreachable, the PostgreSQL cases fail. Each test module run gets its own throw-away database.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import queue
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from infra.errors import IdMapConflict
from infra.store import Store, metadata, normalise_database_url, owner_alive

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def pg_server_url() -> str:
    """The PostgreSQL server to use, from DATABASE_URL when it names one."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql")) else DEFAULT_PG_URL


def pg_admin_url(database: str = "postgres") -> str:
    return (
        make_url(normalise_database_url(pg_server_url()))
        .set(database=database)
        .render_as_string(hide_password=False)
    )


def create_pg_database(prefix: str) -> str:
    """CREATE DATABASE (autocommit) on the server; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return pg_admin_url(name)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    engine = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped at the end (fails if unreachable)."""
    url = create_pg_database("auvo_bling_test_store")
    Store(url).dispose()  # create the schema once
    try:
        yield url
    finally:
        drop_pg_database(url)


def backend_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("pg_url")


def wipe(store: Store) -> None:
    with store.transaction() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request, request.param, tmp_path)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An empty store on the backend under test."""
    s = Store(db_url)
    wipe(s)
    try:
        yield s
    finally:
        s.dispose()


# --- plumbing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.sqlite3", "sqlite:///x.sqlite3"),
    ],
)
def test_normalise_database_url(url: str, expected: str) -> None:
    """Pasted postgres URLs are turned into psycopg 3 URLs; SQLite is left alone."""
    assert normalise_database_url(url) == expected


def test_ping_and_backend(store: Store, db_url: str) -> None:
    """The store talks to the backend it was given."""
    store.ping()
    assert store.is_sqlite == db_url.startswith("sqlite")


def test_create_schema_is_idempotent(store: Store) -> None:
    """Creating the schema again (a restart) is harmless."""
    store.create_schema()
    store.create_schema()
    with store.transaction() as conn:
        store.bump(conn, "t", "x")
    assert store.counters("t") == {"x": 1}


# --- id map --------------------------------------------------------------------------------------


def test_link_and_lookups(store: Store) -> None:
    """A link is visible both ways and in id_pairs; unknown ids give None."""
    with store.transaction() as conn:
        store.link(conn, "acme", "customer", "100", "9001")
        store.link(conn, "acme", "customer", "101", "9002")
    assert store.bling_id_for("acme", "customer", "100") == "9001"
    assert store.auvo_id_for("acme", "customer", "9002") == "101"
    assert store.bling_id_for("acme", "customer", "999") is None
    assert store.auvo_id_for("acme", "customer", "999") is None
    pairs = sorted(store.id_pairs("acme", "customer"), key=lambda p: p.auvo_id)
    assert [(p.auvo_id, p.bling_id) for p in pairs] == [("100", "9001"), ("101", "9002")]


def test_link_same_pair_is_idempotent(store: Store) -> None:
    """Linking the same pair again (a redelivery) is a no-op, not an error or a duplicate row."""
    for _ in range(3):
        with store.transaction() as conn:
            store.link(conn, "acme", "customer", "100", "9001")
    assert len(store.id_pairs("acme", "customer")) == 1


@pytest.mark.parametrize(
    ("auvo_id", "bling_id"),
    [
        ("100", "9999"),  # re-point the Auvo record to another contato
        ("555", "9001"),  # a second Auvo record claims the same contato
    ],
)
def test_link_refuses_to_repoint(store: Store, auvo_id: str, bling_id: str) -> None:
    """Re-pointing an existing link raises IdMapConflict and leaves the map (and the txn) untouched."""
    with store.transaction() as conn:
        store.link(conn, "acme", "customer", "100", "9001")
    with pytest.raises(IdMapConflict) as info, store.transaction() as conn:
        store.bump(conn, "acme", "in-failed-txn")
        store.link(conn, "acme", "customer", auvo_id, bling_id)
    assert "100" in str(info.value) and "9001" in str(info.value)
    assert info.value.hint
    assert store.bling_id_for("acme", "customer", "100") == "9001"
    assert store.auvo_id_for("acme", "customer", "9001") == "100"
    assert len(store.id_pairs("acme", "customer")) == 1
    assert store.counters("acme") == {}  # the whole transaction rolled back


def test_link_is_scoped_by_tenant_and_entity(store: Store) -> None:
    """The same ids in another tenant or entity are independent links."""
    with store.transaction() as conn:
        store.link(conn, "acme", "customer", "100", "9001")
        store.link(conn, "other", "customer", "100", "7777")
        store.link(conn, "acme", "product", "100", "8888")
    assert store.bling_id_for("acme", "customer", "100") == "9001"
    assert store.bling_id_for("other", "customer", "100") == "7777"
    assert store.bling_id_for("acme", "product", "100") == "8888"


@pytest.mark.parametrize("side", ["auvo", "bling"])
def test_forget_link_allows_relinking(store: Store, side: str) -> None:
    """After forget_link (record deleted on one side) the Auvo record can be linked to a new contato."""
    with store.transaction() as conn:
        store.link(conn, "acme", "customer", "100", "9001")
        store.link(conn, "acme", "customer", "101", "9002")
    if side == "auvo":
        store.forget_link("acme", "customer", auvo_id="100")
    else:
        store.forget_link("acme", "customer", bling_id="9001")
    assert store.bling_id_for("acme", "customer", "100") is None
    assert store.bling_id_for("acme", "customer", "101") == "9002"  # others untouched
    with store.transaction() as conn:
        store.link(conn, "acme", "customer", "100", "9555")
    assert store.bling_id_for("acme", "customer", "100") == "9555"


def test_forget_link_other_tenant_untouched(store: Store) -> None:
    """forget_link never reaches another tenant's rows."""
    with store.transaction() as conn:
        store.link(conn, "acme", "customer", "100", "9001")
        store.link(conn, "other", "customer", "100", "9001")
    store.forget_link("acme", "customer", auvo_id="100")
    assert store.bling_id_for("other", "customer", "100") == "9001"


# --- processed events, versions, cursors, tokens, fingerprints -----------------------------------


def test_mark_processed_only_once(store: Store) -> None:
    """mark_processed returns True the first time and False on a redelivery."""
    with store.transaction() as conn:
        assert store.mark_processed(conn, "acme", "to-bling.contacts", "ev-1", "created") is True
    with store.transaction() as conn:
        assert store.mark_processed(conn, "acme", "to-bling.contacts", "ev-1", "created") is False
    assert store.is_processed("acme", "to-bling.contacts", "ev-1")
    assert not store.is_processed("acme", "to-bling.contacts", "ev-2")
    assert not store.is_processed("acme", "to-auvo.customers", "ev-1")  # per consumer
    assert not store.is_processed("other", "to-bling.contacts", "ev-1")  # per tenant
    assert store.count_processed("acme") == 1


def test_mark_processed_rolls_back_with_the_transaction(store: Store) -> None:
    """If the handler's transaction fails, the event is not marked processed."""
    with pytest.raises(RuntimeError), store.transaction() as conn:
        store.mark_processed(conn, "acme", "c", "ev-1", "created")
        raise RuntimeError("write failed")
    assert not store.is_processed("acme", "c", "ev-1")
    with store.transaction() as conn:
        store.mark_processed(conn, "acme", "c", "ev-1", "created")
    assert store.is_processed("acme", "c", "ev-1")
    assert store.count_processed("acme") == 1


def test_applied_versions(store: Store) -> None:
    """set_applied_version inserts then overwrites, per (tenant, consumer, entity)."""
    assert store.applied_version("acme", "c", "42") is None
    with store.transaction() as conn:
        store.set_applied_version(conn, "acme", "c", "42", "2024-05-10T14:22:31")
    assert store.applied_version("acme", "c", "42") == "2024-05-10T14:22:31"
    with store.transaction() as conn:
        store.set_applied_version(conn, "acme", "c", "42", "2024-05-10T15:00:00")
        store.set_applied_version(conn, "acme", "c2", "42", "v-other")
    assert store.applied_version("acme", "c", "42") == "2024-05-10T15:00:00"
    assert store.applied_version("acme", "c2", "42") == "v-other"
    assert store.applied_version("other", "c", "42") is None


def test_cursors(store: Store) -> None:
    """Cursors are upserted per (tenant, name) with an update time."""
    assert store.cursor("acme", "auvo.customers") is None
    before = datetime.now(UTC) - timedelta(seconds=5)
    store.set_cursor("acme", "auvo.customers", "2024-05-10T14:22:31")
    store.set_cursor("acme", "auvo.customers", "2024-05-10T14:30:00")
    store.set_cursor("acme", "bling.contacts", "page=3")
    store.set_cursor("other", "auvo.customers", "x")
    assert store.cursor("acme", "auvo.customers") == "2024-05-10T14:30:00"
    everything = store.all_cursors("acme")
    assert set(everything) == {"auvo.customers", "bling.contacts"}
    value, updated_at = everything["bling.contacts"]
    assert value == "page=3"
    assert isinstance(updated_at, datetime)
    stamp = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=5)


def test_tokens(store: Store) -> None:
    """save_token upserts the ciphertext per (tenant, provider)."""
    assert store.load_token("acme", "bling") is None
    expires = datetime(2024, 5, 10, 20, 0, tzinfo=UTC)
    store.save_token("acme", "bling", "cipher-1", expires)
    store.save_token("acme", "bling", "cipher-2", None)
    store.save_token("other", "bling", "cipher-other", expires)
    assert store.load_token("acme", "bling") == "cipher-2"
    assert store.load_token("other", "bling") == "cipher-other"
    assert store.load_token("acme", "auvo") is None


def test_fingerprints(store: Store) -> None:
    """Fingerprints are upserted per (tenant, system, entity, id)."""
    assert store.fingerprint("acme", "bling", "contact", "9001") is None
    with store.transaction() as conn:
        store.set_fingerprint(conn, "acme", "bling", "contact", "9001", "a" * 64)
        store.set_fingerprint(conn, "acme", "bling", "contact", "9001", "b" * 64)
        store.set_fingerprint(conn, "acme", "auvo", "contact", "9001", "c" * 64)
    assert store.fingerprint("acme", "bling", "contact", "9001") == "b" * 64
    assert store.fingerprint("acme", "auvo", "contact", "9001") == "c" * 64
    assert store.fingerprint("other", "bling", "contact", "9001") is None


def test_write_intents(store: Store) -> None:
    """note_intent: False the first time, True while it stays noted; clear_intent resets it."""
    assert store.note_intent("acme", "c", "42") is False
    assert store.note_intent("acme", "c", "42") is True
    assert store.note_intent("acme", "c", "43") is False
    assert store.note_intent("acme", "c2", "42") is False
    with store.transaction() as conn:
        store.clear_intent(conn, "acme", "c", "42")
    assert store.note_intent("acme", "c", "42") is False
    assert store.note_intent("acme", "c", "43") is True


def test_counters(store: Store) -> None:
    """bump inserts then increments, by 1 or by a given amount, per tenant."""
    assert store.counters("acme") == {}
    with store.transaction() as conn:
        store.bump(conn, "acme", "to-bling.contacts.created")
        store.bump(conn, "acme", "to-bling.contacts.created")
        store.bump(conn, "acme", "to-bling.contacts.skipped", by=5)
        store.bump(conn, "other", "to-bling.contacts.created")
    with store.transaction() as conn:
        store.bump(conn, "acme", "to-bling.contacts.created", by=10)
    assert store.counters("acme") == {"to-bling.contacts.created": 12, "to-bling.contacts.skipped": 5}
    assert store.counters("other") == {"to-bling.contacts.created": 1}


# --- named locks ---------------------------------------------------------------------------------


def test_try_lock_free_name(store: Store) -> None:
    """try_lock on a name nobody holds returns True at once."""
    assert store.try_lock("acme:customer:42", "a", ttl_seconds=30) is True


def test_try_lock_lease(store: Store) -> None:
    """Owner takes and renews; another owner is refused until the lease expires, then takes over."""
    assert store.try_lock("acme:customer:42", "a", ttl_seconds=0.3) is True
    assert store.try_lock("acme:customer:42", "a", ttl_seconds=0.3) is True  # renew
    assert store.try_lock("acme:customer:42", "b", ttl_seconds=0.3) is False
    assert store.try_lock("acme:customer:43", "b", ttl_seconds=0.3) is True  # other name is free
    time.sleep(0.35)
    assert store.try_lock("acme:customer:42", "b", ttl_seconds=30) is True  # expired lease taken over
    assert store.try_lock("acme:customer:42", "a", ttl_seconds=30) is False  # the old holder lost it


def test_try_lock_renewal_extends_the_lease(store: Store) -> None:
    """Renewing pushes the expiry forward, so the holder keeps the name past the first ttl."""
    # margins of a second: a loaded CI machine can stall a 0.2 s sleep past a 0.3 s lease
    assert store.try_lock("n", "a", ttl_seconds=2.0)
    time.sleep(1.2)
    assert store.try_lock("n", "a", ttl_seconds=2.0)
    time.sleep(1.2)  # 2.4 s after the first take (past its ttl), 1.2 s after the renewal
    assert store.try_lock("n", "b", ttl_seconds=2.0) is False


def _exit_at_once() -> None:
    """Child process body: nothing."""


def dead_local_pid() -> int:
    """The pid of a process of this host that has exited."""
    child = multiprocessing.get_context("spawn").Process(target=_exit_at_once)
    child.start()
    child.join(30)
    assert child.pid is not None and child.exitcode == 0
    return child.pid


def test_owner_alive() -> None:
    """This process is alive; an exited local pid is not; other hosts and odd owners count as alive."""
    host = socket.gethostname()
    assert owner_alive(f"{host}:{os.getpid()}:{threading.get_ident()}") is True
    assert owner_alive(f"{host}:{dead_local_pid()}:1") is False
    assert owner_alive(f"another-host-{uuid.uuid4().hex}:1:1") is True
    assert owner_alive("holder") is True
    assert owner_alive(f"{host}:not-a-pid:1") is True


def test_try_lock_takes_over_a_dead_local_owner(store: Store) -> None:
    """A lease whose holder process (same host) is gone is taken over before it expires."""
    dead = f"{socket.gethostname()}:{dead_local_pid()}:1"
    remote = f"another-host-{uuid.uuid4().hex}:{os.getpid()}:1"
    assert store.try_lock("dead", dead, ttl_seconds=60)
    assert store.try_lock("remote", remote, ttl_seconds=60)
    assert store.try_lock("dead", "me", ttl_seconds=30) is True
    assert store.try_lock("remote", "me", ttl_seconds=30) is False  # cannot tell: assumed alive


def test_unlock_only_by_owner(store: Store) -> None:
    """unlock by someone else does nothing; by the owner it frees the name."""
    assert store.try_lock("n", "a", ttl_seconds=30)
    store.unlock("n", "b")
    assert store.try_lock("n", "b", ttl_seconds=30) is False
    store.unlock("n", "a")
    assert store.try_lock("n", "b", ttl_seconds=30) is True


def test_lock_context_manager_excludes_others(store: Store) -> None:
    """lock() yields True at once for a free name; a second holder is refused inside the block."""
    started = time.monotonic()
    with store.lock("n", "a", ttl_seconds=30, wait_seconds=5) as got:
        assert bool(got) is True
        assert time.monotonic() - started < 0.5
        with store.lock("n", "b", ttl_seconds=30, wait_seconds=0.1) as other:
            assert bool(other) is False
        with store.lock("m", "b", ttl_seconds=30, wait_seconds=0.1) as free:
            assert bool(free) is True  # another name is independent
    with store.lock("n", "b", ttl_seconds=30, wait_seconds=0.1) as after:
        assert bool(after) is True  # released at the end of the block


def test_lock_context_manager_times_out(store: Store) -> None:
    """While another holder keeps the name, lock() yields False after about wait_seconds."""
    with store.lock("n", "holder", wait_seconds=1) as held:
        assert bool(held) is True
        started = time.monotonic()
        with store.lock("n", "waiter", ttl_seconds=30, wait_seconds=0.3) as got:
            assert bool(got) is False
        elapsed = time.monotonic() - started
        assert 0.3 <= elapsed < 2.0
        # the waiter did not release the holder's lock on the way out
        with store.lock("n", "someone-else", wait_seconds=0.05) as third:
            assert bool(third) is False


def test_lock_context_manager_across_threads_waits_for_release(store: Store) -> None:
    """A waiter in another thread gets the lock as soon as the holder's block ends."""
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.lock("n", "holder", wait_seconds=1) as got:
            assert got
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(5)
        threading.Timer(0.2, release.set).start()
        started = time.monotonic()
        with store.lock("n", "waiter", ttl_seconds=30, wait_seconds=5) as got:
            assert bool(got) is True
            waited = time.monotonic() - started
        assert 0.15 <= waited < 2.0
    finally:
        release.set()
        thread.join(5)


def test_lock_is_exclusive_across_threads(store: Store) -> None:
    """8 threads incrementing a shared value under lock() never interleave."""
    inside = 0
    max_inside = 0
    guard = threading.Lock()

    def worker(i: int) -> None:
        nonlocal inside, max_inside
        for _ in range(3):
            with store.lock("crit", f"w{i}", wait_seconds=20) as got:
                assert got
                with guard:
                    inside += 1
                    max_inside = max(max_inside, inside)
                time.sleep(0.005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert max_inside == 1


def test_lock_released_when_block_raises(store: Store) -> None:
    """An exception inside the block still releases the lock."""
    with pytest.raises(ValueError), store.lock("n", "a", wait_seconds=1):
        raise ValueError("boom")
    with store.lock("n", "b", wait_seconds=0.1) as got:
        assert bool(got) is True


# --- GCRA rate limit -----------------------------------------------------------------------------


def test_reserve_slot_sequence(store: Store) -> None:
    """interval 0.1, burst 3: waits 0,0,0,0.1,0.2,... (minus the time the calls themselves took)."""
    interval, burst = 0.1, 3
    start = time.time()
    waits = []
    bounds = []
    for _ in range(10):
        wait = store.reserve_slot("acme:bling", interval, burst)
        waits.append(wait)
        bounds.append(time.time() - start)
    for k, (wait, elapsed) in enumerate(zip(waits, bounds, strict=True)):
        ideal = max(0.0, (k - burst + 1) * interval)
        assert ideal - elapsed - 1e-6 <= wait <= ideal + 1e-6, (k, waits)
    assert waits[:burst] == [0.0] * burst
    assert waits[burst] > 0


def test_reserve_slot_buckets_are_independent_and_refill(store: Store) -> None:
    """Another bucket is not affected; an idle bucket lets a new burst through."""
    for _ in range(5):
        store.reserve_slot("a", 0.05, 2)
    assert store.reserve_slot("b", 0.05, 2) == 0.0
    assert store.reserve_slot("a", 0.05, 2) > 0
    time.sleep(0.05 * 8)
    assert [store.reserve_slot("a", 0.05, 2) for _ in range(2)] == [0.0, 0.0]
    assert store.reserve_slot("a", 0.05, 2) > 0


def _reserve_worker(
    url: str, bucket: str, n: int, interval: float, burst: int, start: object, out: object
) -> None:
    """Child process: reserve n slots; report the reserved times (clock after the call + wait)."""
    s = Store(url, create=False)
    s.ping()
    start.wait()  # type: ignore[attr-defined]
    times = []
    for _ in range(n):
        wait = s.reserve_slot(bucket, interval, burst)
        times.append(time.time() + wait)
    s.dispose()
    out.put(times)  # type: ignore[attr-defined]


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


def _run_reservers(
    url: str, bucket: str, procs: int, per_proc: int, interval: float, burst: int
) -> list[float]:
    """Spawn `procs` processes that start reserving at the same instant; all reserved times, sorted."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(procs)
    out = ctx.Queue()
    children = [
        ctx.Process(target=_reserve_worker, args=(url, bucket, per_proc, interval, burst, start, out))
        for _ in range(procs)
    ]
    for child in children:
        child.start()
    try:
        times = [t for chunk in collect(out, children) for t in chunk]
    finally:
        for child in children:
            child.join(10)
    assert all(child.exitcode == 0 for child in children)
    return sorted(times)


@pytest.fixture(params=BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database several processes share: a SQLite file or the module's PostgreSQL database."""
    url = backend_url(request, request.param, tmp_path)
    s = Store(url)
    wipe(s)
    s.dispose()
    yield url


def test_reserve_slot_across_processes_never_exceeds_rate(shared_url: str) -> None:
    """4 spawned processes hammering one fresh bucket: after the burst, slots are >= interval apart.

    Calls do not sleep, so a 1 s interval costs nothing; it makes clock noise (ms) negligible.
    """
    interval, burst, procs, per_proc = 1.0, 3, 4, 6
    tolerance = 0.1
    bucket = f"bucket-{uuid.uuid4().hex}"
    # The bucket row exists (idle) before the race; its creation race is covered by
    # test_reserve_slot_threads_on_a_fresh_bucket.
    parent = Store(shared_url)
    parent.reserve_slot(bucket, 1e-6, burst)
    parent.dispose()
    reserved = _run_reservers(shared_url, bucket, procs, per_proc, interval, burst)
    assert len(reserved) == procs * per_proc
    first = reserved[0]
    # exactly `burst` slots at the start, then one per interval
    assert sum(1 for t in reserved if t - first < interval - tolerance) == burst, reserved
    for a, b in itertools.pairwise(reserved[burst - 1 :]):
        assert b - a >= interval - tolerance, reserved
    assert reserved[-1] - first >= (len(reserved) - burst) * interval - tolerance
    # the GCRA guarantee itself: any k+1 slots in a row span at least (k + 1 - burst) intervals
    for j in range(len(reserved)):
        for k in range(j + burst, len(reserved)):
            assert reserved[k] - reserved[j] >= (k - j + 1 - burst) * interval - tolerance, reserved


def _wait_for_blocked_sessions(db_url: str, count: int, timeout: float = 5.0) -> None:
    """Until `count` other sessions of this PostgreSQL database wait on a lock."""
    engine = create_engine(normalise_database_url(db_url))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
            if waiting >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"{count} sessions never blocked")
    finally:
        engine.dispose()


def test_reserve_slot_race_on_a_fresh_bucket(
    store: Store, db_url: str, request: pytest.FixtureRequest
) -> None:
    """Two callers reserving while a third creates the bucket row: nobody's reservation is lost.

    The third racer is a transaction that inserts the row (its own slot) and commits after the two
    callers are blocked behind it. With burst 1 and a 1 s interval their waits must be ~1 s and ~2 s.
    """
    interval = 1.0
    first_racer_in = threading.Event()
    release = threading.Event()

    def first_racer() -> None:
        if store.is_sqlite:
            conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO rate_buckets (name, theoretical_arrival) VALUES (?, ?)",
                ("fresh", time.time() + interval),
            )
            first_racer_in.set()
            release.wait(10)
            conn.execute("COMMIT")
            conn.close()
        else:
            engine = create_engine(normalise_database_url(db_url))
            with engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO rate_buckets (name, theoretical_arrival) VALUES ('fresh', :t)"),
                    {"t": time.time() + interval},
                )
                first_racer_in.set()
                release.wait(10)
            engine.dispose()

    waits: list[float] = []
    guard = threading.Lock()

    def caller() -> None:
        w = store.reserve_slot("fresh", interval, 1)
        with guard:
            waits.append(w)

    racer = threading.Thread(target=first_racer)
    racer.start()
    assert first_racer_in.wait(5)
    callers = [threading.Thread(target=caller) for _ in range(2)]
    for t in callers:
        t.start()
    try:
        if store.is_sqlite:
            time.sleep(0.3)
        else:
            _wait_for_blocked_sessions(db_url, 2)
    finally:
        release.set()
        racer.join(10)
        for t in callers:
            t.join(10)
    assert sorted(round(w) for w in waits) == [1, 2], waits


def test_reserve_slot_uses_the_clock_after_taking_the_bucket_lock(store: Store, db_url: str) -> None:
    """A caller that waited for the bucket row must not get a slot computed from a stale clock.

    One caller blocks on the bucket (another transaction holds it) for 0.5 s; right after it, a
    second caller reserves. With burst 1 and interval 1 s their requests must be >= 1 s apart.
    """
    interval = 1.0
    store.reserve_slot("b", 1e-6, 1)  # create the row; the bucket is idle
    time.sleep(0.01)
    sent: dict[str, float] = {}
    blocker_ready = threading.Event()
    release = threading.Event()

    def hold_bucket() -> None:
        if store.is_sqlite:
            path = db_url.removeprefix("sqlite:///")
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            blocker_ready.set()
            release.wait(5)
            conn.execute("COMMIT")
            conn.close()
        else:
            engine = create_engine(normalise_database_url(db_url))
            with engine.begin() as conn:
                conn.execute(text("SELECT 1 FROM rate_buckets WHERE name = 'b' FOR UPDATE"))
                blocker_ready.set()
                release.wait(5)
            engine.dispose()

    def first_caller() -> None:
        wait = store.reserve_slot("b", interval, 1)
        sent["first"] = time.time() + wait

    holder = threading.Thread(target=hold_bucket)
    holder.start()
    assert blocker_ready.wait(5)
    caller = threading.Thread(target=first_caller)
    caller.start()
    time.sleep(0.5)
    release.set()
    holder.join(5)
    caller.join(10)
    wait = store.reserve_slot("b", interval, 1)
    sent["second"] = time.time() + wait
    assert sent["second"] - sent["first"] >= interval - 0.05, sent


# --- schema creation races -----------------------------------------------------------------------


def test_concurrent_schema_creation_on_postgresql() -> None:
    """Several Store() created at once on an empty PostgreSQL database all succeed."""
    url = create_pg_database("auvo_bling_test_schema")
    try:
        n = 6
        barrier = threading.Barrier(n)
        errors: list[BaseException] = []
        stores: list[Store] = []

        def build() -> None:
            try:
                barrier.wait()
                stores.append(Store(url))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=build) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert len(stores) == n
        with stores[0].transaction() as conn:
            stores[0].bump(conn, "t", "ok")
        assert stores[-1].counters("t") == {"ok": 1}
        for s in stores:
            s.dispose()
    finally:
        drop_pg_database(url)


def _build_store(url: str) -> bool:
    Store(url).dispose()
    return True


def test_concurrent_schema_creation_across_processes_on_sqlite(tmp_path: Path) -> None:
    """Processes creating the schema of one new SQLite file at once do not fail."""
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        assert pool.map(_build_store, [url] * 3, chunksize=1) == [True, True, True]
