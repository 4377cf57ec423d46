"""The shared topology's looks at every tenant: one store read for all the pauses, one for all the
options revisions, one for the day's Bling calls, however many companies the process serves; only
a tenant paused for its quota, or whose options moved, gets a look of its own."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from auvo_bling.tenant_watches import FleetLooks, FleetMember
from infra.bling.budget import DailyBudgetGuard
from infra.bling.quota_watch import QuotaWatch
from infra.quota import DailyBudget
from infra.store import Store
from infra.tenant_gate import TenantGate

TENANTS = [f"t{i:03d}" for i in range(50)]


class Watcher:
    """An OptionsWatcher's `tick`, written down."""

    def __init__(self) -> None:
        self.applied: list[int] = []
        self.last = 0

    def tick(self, revision: int | None = None) -> None:
        assert revision is not None  # the fleet read it: the watcher must not read again
        if revision != self.last:
            self.applied.append(revision)
            self.last = revision


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    yield store
    store.dispose()


def reads(store: Store) -> Counter[str]:
    counts: Counter[str] = Counter()

    @event.listens_for(store.engine, "before_cursor_execute")
    def _count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is not a read
            counts["statements"] += 1
            counts[statement.split()[0]] += 1

    return counts


def fleet(store: Store) -> tuple[FleetLooks, dict[str, FleetMember], dict[str, Watcher]]:
    looks, members, watchers = FleetLooks(store), {}, {}
    for tenant in TENANTS:
        gate = TenantGate(store, tenant, ttl_seconds=3600)
        guard = DailyBudgetGuard(store, tenant, DailyBudget())
        probes: list[str] = []
        quota = QuotaWatch(store, gate, guard, lambda p=probes: p.append("probe"), probe_seconds=300)
        watchers[tenant] = Watcher()
        members[tenant] = FleetMember(tenant, gate, quota, watchers[tenant])  # type: ignore[arg-type]
        looks.add(members[tenant])
    return looks, members, watchers


def test_one_read_primes_every_gate_and_only_a_quota_pause_is_looked_at_alone(store: Store) -> None:
    looks, members, _ = fleet(store)
    store.pause_tenant("t007", "PausedByOperator", "fixing the accounts", "")
    counts = reads(store)
    looks.look_at_pauses()
    assert counts["statements"] == 1  # fifty tenants, one read
    counts.clear()
    assert [t for t in TENANTS if not members[t].gate.is_open()] == ["t007"]
    assert counts["statements"] == 0  # the gates answer from the primed cache
    # a tenant paused for its daily quota gets its own look (here: the day's budget is not spent
    # after all, so it resumes); the others still cost nothing more
    store.pause_tenant("t011", "DailyBudgetSpent", "the day's budget is spent", "")
    counts.clear()
    looks.look_at_pauses()
    assert counts["statements"] < 10
    assert store.tenant_pause("t011") is None and members["t011"].gate.is_open()
    store.resume_tenant("t007")
    looks.look_at_pauses()
    assert members["t007"].gate.is_open()


def test_one_read_of_every_revision_applies_only_the_moved_ones(store: Store) -> None:
    looks, _, watchers = fleet(store)
    looks.look_at_options()
    assert all(w.applied == [] for w in watchers.values())  # revision 0 everywhere: nothing moved
    store.save_option_rows("t003", {"tasks.enabled": ("true", False)}, "test")
    counts = reads(store)
    looks.look_at_options()
    assert counts["statements"] == 1
    assert {t: w.applied for t, w in watchers.items() if w.applied} == {"t003": [1]}
    looks.remove("t003")
    store.save_option_rows("t003", {"tasks.enabled": ("false", False)}, "test")
    looks.look_at_options()
    assert watchers["t003"].applied == [1]  # a retired tenant is no longer looked at


def test_one_read_of_the_days_calls_feeds_every_budget_gauge(store: Store) -> None:
    from infra import metrics
    from infra.store import DailyCharge

    looks, members, _ = fleet(store)
    day = members["t005"].quota.guard.today()
    for _ in range(3):
        store.reserve_slot("bling:t005", 0.0, 1, daily=DailyCharge("t005", day, 30_000))
    counts = reads(store)
    looks.look_at_budgets()
    assert counts["statements"] == 1
    assert metrics.BLING_CALLS_TODAY.labels(tenant="t005")._value.get() == 3
