"""The dead-letter index on the real RabbitMQ and PostgreSQL: the runner indexes what it dead-letters
(no read of the queue), groups by cause, `dlq replay --group` as an operation that lands every
letter exactly once, a copy that fails again counted, and `dlq reindex` for the broker's own letters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from infra.bus.dlq import DlqSession
from infra.store import IndexQuery, LetterState
from simulators.seed import seed_bling_contacts
from tests.ops_support import Cli, config_for, dlq_depth, logs_aside, put_dead_letter, wait_until
from tests.support import Simulators, build_settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _logs() -> Iterator[None]:
    with logs_aside():
        yield


@pytest.fixture
def app(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[App]:
    bus = {"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix}
    app = App(build_settings(amqp_url, pg_url, sims, bus=bus, customers={"direction": "bling_to_auvo"}))
    app.declare_topology()
    yield app
    app.close()


@pytest.fixture
def cli(app: App, tmp_path: Path) -> Cli:
    return Cli(config_for(app, tmp_path / "auvo-bling.toml"))


def external_ids(sims: Simulators) -> list[str]:
    with sims.auvo.lock:
        return [str(c.get("externalId")) for c in sims.auvo.customers.values() if c.get("externalId")]


def test_the_runner_indexes_its_dead_letters_and_a_group_replay_lands_each_once(
    app: App, cli: Cli, sims: Simulators
) -> None:
    contacts = seed_bling_contacts(sims.bling, 5, rng_seed=31)
    authorize_headless(app)
    [indexer] = [p for p in app.pollers(app.publisher()) if p.name == "auvo.customers"]
    indexer.poll_once()
    sims.auvo.api_deactivated = True
    running = start(app, producers=False)
    try:
        [poller] = [p for p in app.pollers(app.publisher()) if p.name == "bling.contacts"]
        assert poller.poll_once() == 5
        wait_until(lambda: app.store.count_dead_letters(IndexQuery(tenant=app.tenant)) == 5, 30, "5 indexed")
        assert dlq_depth(app) == 5  # the index was written by the runner: nothing read the queue

        groups: list[dict[str, Any]] = cli.json("dlq", "groups")
        by_class = {g["error_class"]: g for g in groups}
        assert {k: g["count"] for k, g in by_class.items()} == {"AuvoApiDeactivated": 1, "TenantPaused": 4}
        assert all(g["tenants"] == [app.tenant] and g["consumer"] == "to-auvo.customers" for g in groups)
        assert "Integrações" in by_class["AuvoApiDeactivated"]["hint"]

        # replayed while the API is still off: the copy fails again, counted in its operation and
        # carrying its replay count (header and index row)
        assert cli("tenants", "resume", app.tenant, "--no-replay").exit_code == 0
        deactivated = by_class["AuvoApiDeactivated"]["fingerprint"]
        early = cli.json("dlq", "replay", "--group", deactivated)
        assert (early["done"], early["failed_again"]) == (1, 0)

        def failed_again() -> int:
            operation = app.store.dlq_operation(early["id"])
            return operation.failed_again if operation else -1

        wait_until(lambda: failed_again() == 1, 30, "the replayed copy failed again")
        [row] = app.store.dead_letters_of(IndexQuery(fingerprint=deactivated))
        assert row["replay_count"] == 1 and row["state"] == "dead"
        [held] = cli.json("dlq", "list", "--error-class", "AuvoApiDeactivated")
        assert (held["id"], held["replay_count"], held["fingerprint"]) == (row["letter_id"], 1, deactivated)
        groups = cli.json("dlq", "groups")

        sims.auvo.api_deactivated = False
        assert cli("tenants", "resume", app.tenant, "--no-replay").exit_code == 0
        for group in groups:
            operation = cli.json("dlq", "replay", "--group", group["fingerprint"])
            assert (operation["kind"], operation["total"], operation["failed"]) == (
                "replay",
                group["count"],
                0,
            )
            assert operation["done"] == group["count"] and operation["state"] == "done"
        wait_until(lambda: len(external_ids(sims)) == 5, 30, "5 customers in Auvo")
        assert dlq_depth(app) == 0
        assert cli.json("dlq", "groups") == []
        assert app.store.count_dead_letters(IndexQuery(state=LetterState.replayed.value)) == 5
        assert sorted(external_ids(sims)) == sorted(str(c["id"]) for c in contacts)  # each exactly once
        [last, first] = cli.json("dlq", "operations")[:2]
        assert last["failed_again"] == first["failed_again"] == 0
    finally:
        running.stop()
        sims.auvo.api_deactivated = False


def test_reindex_takes_in_the_brokers_dead_letters_and_a_group_parks_and_restores(app: App, cli: Cli) -> None:
    broker = put_dead_letter(
        app,
        event_id="broker-0001",
        error_class="",
        **{
            "x-consumer": "",
            "x-error-class": "",
            "x-first-death-reason": "delivery_limit",
            "x-first-death-queue": app.topology.name("to-bling.contacts"),
            "x-death": [
                {
                    "queue": app.topology.name("to-bling.contacts"),
                    "reason": "delivery_limit",
                    "time": datetime.now(UTC),
                }
            ],
        },
    )
    ours = [put_dead_letter(app, event_id=f"ours-{n:04d}", error_class="ApiRejected") for n in range(3)]
    assert app.store.count_dead_letters() == 0  # put straight into the queue: no runner indexed them
    assert cli.json("dlq", "reindex") == {"indexed": 4, "gone": 0}
    assert dlq_depth(app) == 4  # reading returned every message
    groups = {g["error_class"]: g for g in cli.json("dlq", "groups")}
    assert {k: g["count"] for k, g in groups.items()} == {"DeliveryLimitExceeded": 1, "ApiRejected": 3}
    assert groups["DeliveryLimitExceeded"]["consumer"] == "to-bling.contacts"
    assert broker.id == "broker-0001" and len(ours) == 3

    fp = groups["ApiRejected"]["fingerprint"]
    parked = cli.json("dlq", "park", "--group", fp, "--retention", "1d")
    assert (parked["done"], parked["failed"]) == (3, 0)
    assert dlq_depth(app) == 1
    assert app.store.count_dead_letters(IndexQuery(state=LetterState.parked.value, fingerprint=fp)) == 3
    restored = cli.json("dlq", "restore", "--group", fp)
    assert (restored["done"], restored["failed"]) == (3, 0)
    assert dlq_depth(app) == 4
    assert cli.json("dlq", "reindex") == {"indexed": 4, "gone": 0}
    assert {g["error_class"]: g["count"] for g in cli.json("dlq", "groups")}["ApiRejected"] == 3

    # `dlq purge ID` tells the index; a letter that leaves the queue some other way is found gone by
    # the next reindex
    assert cli("dlq", "purge", "broker-0001", "--yes").exit_code == 0
    assert app.store.count_dead_letters(IndexQuery(state=LetterState.purged.value)) == 1
    with DlqSession(app.settings.amqp_url, app.topology) as session:
        [held] = [h for h in session.scan() if h.letter.id == "ours-0000"]
        session.remove(held)
    assert cli.json("dlq", "reindex") == {"indexed": 2, "gone": 1}
    assert app.store.count_dead_letters(IndexQuery(state=LetterState.purged.value)) == 2
