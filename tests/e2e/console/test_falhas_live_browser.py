"""The Falhas page in a real headless Chromium while a running integration dead-letters events (the
Auvo simulator's API deactivated): a group appears without a reload and its count rises; after the
API is back, "Reenviar grupo" empties each group as an operation that reports every message landed,
and each contact exists exactly once in its target (Auvo, in this bling_to_auvo run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.console.app import create_console_app
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.store import IndexQuery
from simulators.seed import seed_bling_contacts
from simulators.server import serve_in_thread
from tests.console_support import add_users, open_page, shot, sign_in_browser
from tests.ops_support import dlq_depth, logs_aside, wait_until
from tests.support import Simulators, build_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def app(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[App]:
    bus = {"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix}
    app = App(build_settings(amqp_url, pg_url, sims, bus=bus, customers={"direction": "bling_to_auvo"}))
    app.declare_topology()
    add_users(app.store)
    with logs_aside():
        yield app
    app.close()


def external_ids(sims: Simulators) -> list[str]:
    with sims.auvo.lock:
        return [str(c.get("externalId")) for c in sims.auvo.customers.values() if c.get("externalId")]


def group_count(page: Any, error_class: str) -> int:
    cell = page.locator(f'#falhas-groups tr:has(td.error-class:text-is("{error_class}")) td.count')
    return int(cell.inner_text()) if cell.count() else 0


def test_a_group_appears_live_rises_and_replay_group_empties_it(
    chromium: Any, app: App, sims: Simulators
) -> None:
    authorize_headless(app)
    [indexer] = [p for p in app.pollers(app.publisher()) if p.name == "auvo.customers"]
    indexer.poll_once()
    [poller] = [p for p in app.pollers(app.publisher()) if p.name == "bling.contacts"]
    sims.auvo.api_deactivated = True
    running = start(app, producers=False)
    server = serve_in_thread(create_console_app(app.settings, app.store))
    try:
        page = open_page(chromium)
        sign_in_browser(page, server.url, "otto")
        page.goto(f"{server.url}/falhas")
        assert page.locator("#falhas-groups tr.empty").count() == 1
        loads = [0]
        page.on("framenavigated", lambda frame: loads.__setitem__(0, loads[0] + 1))

        first = seed_bling_contacts(sims.bling, 3, rng_seed=41)
        assert poller.poll_once() == 3
        page.wait_for_selector('#falhas-groups td.error-class:text-is("AuvoApiDeactivated")')
        wait_until(lambda: group_count(page, "AuvoApiDeactivated") == 1, 20, "the group on the open page")
        shot(page, "falhas-groups")

        # the company is paused by the first failure; lifted by hand while the API is still off, the
        # next event fails the same way: the open page's count rises
        app.store.resume_tenant(app.tenant)
        more = seed_bling_contacts(sims.bling, 2, rng_seed=42)
        wait_until(
            lambda: poller.poll_once() >= 0 and group_count(page, "AuvoApiDeactivated") == 2,
            30,
            "the group's count rising on the open page",
        )
        wait_until(lambda: app.store.count_dead_letters(IndexQuery()) == 5, 30, "5 dead letters indexed")
        wait_until(lambda: int(page.inner_text("#falhas-total")) == 5, 10, "5 on the page")
        assert loads == [0]  # no reload: the page polled the JSON route

        sims.auvo.api_deactivated = False
        app.store.resume_tenant(app.tenant)
        for error_class in ("AuvoApiDeactivated", "TenantPaused"):
            if not group_count(page, error_class):
                continue
            count = group_count(page, error_class)
            page.click(f'#falhas-groups tr:has(td.error-class:text-is("{error_class}")) a.open-group')
            page.wait_for_selector("form.falhas-group-actions")
            if error_class == "AuvoApiDeactivated":
                shot(page, "falhas-group")
            page.click("button.replay-group")
            assert int(page.inner_text("strong.confirm-count")) == count  # the count before confirming
            page.click("button.confirm")
            page.wait_for_url(f"{server.url}/falhas?done=falhas_op_started")
            page.wait_for_selector('#falhas-operations td.op-state:text-is("concluída")')
            wait_until(lambda ec=error_class: group_count(page, ec) == 0, 20, f"{error_class} emptied")
        operations = app.store.dlq_operations_recent()
        assert all(op.kind == "replay" and op.failed == 0 and op.done == op.total for op in operations)
        assert sum(op.done for op in operations) == 5
        audited = [e for e in app.store.audit_entries(app.tenant) if e.action == "dlq.replay"]
        assert len(audited) == len(operations) and all(e.actor == "console:otto" for e in audited)
        wait_until(lambda: len(external_ids(sims)) == 5, 30, "5 customers in Auvo")
        assert dlq_depth(app) == 0
        assert page.locator("#falhas-groups tr.empty").count() == 1
        shot(page, "falhas-replayed")
        assert sorted(external_ids(sims)) == sorted(str(c["id"]) for c in first + more)  # exactly once
        page.context.close()
    finally:
        server.stop()
        running.stop()
        sims.auvo.api_deactivated = False
