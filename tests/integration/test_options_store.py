"""The options store on PostgreSQL: saves at the same moment each get their own revision, and the
audit log pages newest first, per tenant."""

from __future__ import annotations

import threading

import pytest

from infra.store import Store

pytestmark = pytest.mark.integration


def test_concurrent_saves_get_distinct_revisions_and_one_audit_row_each(pg_url: str) -> None:
    store = Store(pg_url, pool_size=10)
    try:
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def save(i: int) -> None:
            try:
                start.wait(10)
                for j in range(5):
                    store.save_option_rows(
                        "acme",
                        {f"key-{i}": ("1", False)},
                        f"actor-{i}",
                        audit=("options.save", {"n": j}, {"n": j + 1}, ()),
                    )
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert store.options_revision("acme").revision == 40
        assert store.audit_count("acme") == 40 and store.audit_count("other") == 0
        page = store.audit_entries("acme", limit=10, offset=5)
        assert len(page) == 10
        ats = [e.at for e in store.audit_entries("acme", limit=40)]
        assert ats == sorted(ats, reverse=True)
    finally:
        store.dispose()


def test_a_long_actor_is_cut_to_the_column_not_refused(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        store.save_option_rows(
            "acme", {"k": ("1", False)}, "cli:" + "x" * 500, audit=("options.save", {}, {}, ())
        )
        store.record_audit("console:" + "y" * 500, "acme", "user.add", {}, {"user": "ana"})
        assert [len(e.actor) for e in store.audit_entries("acme")] == [200, 200]
    finally:
        store.dispose()
