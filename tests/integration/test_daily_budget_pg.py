"""The daily count on PostgreSQL under concurrency: many threads and two stores (processes) charging
one tenant's day never count past the limit, and each refusal takes no rate-limit slot."""

from __future__ import annotations

import threading

import pytest

from infra.store import DailyCharge, DailyLimitReached, Store

pytestmark = pytest.mark.integration


def test_concurrent_charges_stop_exactly_at_the_limit(pg_url: str) -> None:
    stores = [Store(pg_url, pool_size=8), Store(pg_url, pool_size=8)]
    charge = DailyCharge("acme", "2026-12-02", 150)
    counted: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def work(store: Store) -> None:
        for _ in range(25):
            try:
                n = store.reserve_slot("bling:acme", 1e-6, 1, daily=charge)
            except DailyLimitReached as exc:
                with lock:
                    refused.append(exc.used)
            else:
                with lock:
                    counted.append(n)

    threads = [threading.Thread(target=work, args=(stores[i % 2],)) for i in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(counted) == 150 and len(refused) == 50
        assert set(refused) == {150}
        assert stores[0].daily_calls("acme", "2026-12-02") == 150
        assert stores[1].daily_calls("beta", "2026-12-02") == 0
    finally:
        for store in stores:
            store.dispose()
