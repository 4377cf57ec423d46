"""The dead-letter queue on the real RabbitMQ: the guide's error end to end, every `dlq` subcommand,
the broker's delivery limit for a crashing consumer, and per-consumer retry policies."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from contracts.envelope import Envelope
from infra import metrics
from infra.bus.dlq import DlqSession
from infra.bus.publisher import make_connection
from infra.bus.runner import QueueWorker, RetryPolicy, retry_overrides
from infra.bus.topology import TO_AUVO_CUSTOMERS, TO_BLING_CONTACTS, Topology
from infra.errors import ApiUnavailable
from simulators.seed import seed_bling_contacts
from tests.ops_support import (
    Cli,
    config_for,
    dlq_depth,
    logs_aside,
    put_dead_letter,
    put_envelope,
    wait_until,
)
from tests.support import CLIENT_SECRET, Simulators, build_settings

pytestmark = pytest.mark.integration

BLING_POLLER = "bling.contacts"  # in bling_to_auvo the Auvo poller only keeps the customer index


@pytest.fixture(autouse=True)
def _logs() -> Iterator[None]:
    with logs_aside():
        yield


@pytest.fixture
def make_app(amqp_url: str, pg_url: str, sims: Simulators, bus_prefix: str) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**overrides: Any) -> App:
        overrides.setdefault("customers", {"direction": "bling_to_auvo"})
        bus = {"retry_delays_seconds": [0.3, 0.6, 1.0], "max_attempts": 5, "prefix": bus_prefix}
        bus.update(overrides.pop("bus", {}))
        app = App(build_settings(amqp_url, pg_url, sims, bus=bus, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    app = make_app()
    app.declare_topology()
    return app


@pytest.fixture
def cli(app: App, tmp_path: Path) -> Cli:
    return Cli(config_for(app, tmp_path / "auvo-bling.toml"))


def auvo_puts(sims: Simulators) -> int:
    return sum(n for (m, resource), n in sims.auvo.writes.items() if m == "PUT" and "customers" in resource)


def external_ids(sims: Simulators) -> list[str]:
    with sims.auvo.lock:
        return [str(c.get("externalId")) for c in sims.auvo.customers.values() if c.get("externalId")]


def test_api_deactivated_dead_letters_then_replay_syncs_each_contact_exactly_once(
    app: App, cli: Cli, sims: Simulators, tmp_path: Path
) -> None:
    contacts = seed_bling_contacts(sims.bling, 4, rng_seed=21)
    authorize_headless(app)
    [indexer] = [p for p in app.pollers(app.publisher()) if p.name == "auvo.customers"]
    indexer.poll_once()  # the producer's first pass over Auvo's customers, before the API goes off
    sims.auvo.api_deactivated = True
    running = start(app, producers=False)
    try:
        [poller] = [p for p in app.pollers(app.publisher()) if p.name == BLING_POLLER]
        assert poller.poll_once() == 4
        wait_until(lambda: dlq_depth(app) == 4, 30, "4 dead letters")

        rows = cli.json("dlq", "list")
        assert len(rows) == 4
        assert {r["entity_id"] for r in rows} == {str(c["id"]) for c in contacts}
        # the first failure names the cause and pauses the tenant; the events in flight with it are
        # parked (not tried against a dead API), and the tenant's consumers stop
        [cause] = [r for r in rows if r["error_class"] == "AuvoApiDeactivated"]
        assert cause["hint"] == "the Auvo API is deactivated: turn it on in Auvo > Integrações, then replay"
        parked = [r for r in rows if r is not cause]
        assert {r["error_class"] for r in parked} == {"TenantPaused"}
        assert all("AuvoApiDeactivated" in r["error_message"] for r in parked)
        assert "tenants resume" in parked[0]["hint"]
        for row in rows:
            assert row["consumer"] == "to-auvo.customers"
            assert row["event_type"] == "bling.contact.changed"
            assert row["age_seconds"] is not None and row["age_seconds"] < 60
        pause = app.store.tenant_pause(app.tenant)
        assert pause is not None and pause.error_class == "AuvoApiDeactivated"

        table = cli("dlq", "list")
        assert table.exit_code == 0
        assert "AuvoApiDeactivated" in table.stdout and "Integrações" in table.stdout
        assert all(r["id"] in table.stdout for r in rows)
        assert "4 shown of 4" in table.stdout

        shown = cli("dlq", "show", cause["id"][:8])
        assert shown.exit_code == 0, shown.output
        assert cause["id"] in shown.stdout and '"x-error-class": "AuvoApiDeactivated"' in shown.stdout
        assert '"type": "bling.contact.changed"' in shown.stdout  # the body, pretty
        for secret in (
            sims.auvo.api_key,
            sims.auvo.api_token,
            CLIENT_SECRET,
            app.bling_tokens.access_token(),
        ):
            assert secret not in shown.stdout and secret not in table.stdout
        assert cli("dlq", "export", str(tmp_path / "before.jsonl")).exit_code == 0

        sims.auvo.api_deactivated = False
        resumed = cli("tenants", "resume", app.tenant)
        assert resumed.exit_code == 0, resumed.output
        assert "replayed 4 parked event(s)" in resumed.stdout
        wait_until(lambda: len(external_ids(sims)) == 4, 30, "4 customers in Auvo")
        assert dlq_depth(app) == 0
        assert sorted(external_ids(sims)) == sorted(str(c["id"]) for c in contacts)
        assert auvo_puts(sims) == 4

        # the same dead letters again (imported from the export) replay harmlessly
        assert cli("dlq", "import", str(tmp_path / "before.jsonl")).exit_code == 0
        assert dlq_depth(app) == 4
        again = cli.json("dlq", "replay", "--all")
        assert len(again["replayed"]) == 4 and again["failed"] == []
        wait_until(lambda: running.consumer_stats().get("skipped_duplicate", 0) >= 4, 20, "4 duplicates")
    finally:
        running.stop()
        sims.auvo.api_deactivated = False
    assert dlq_depth(app) == 0
    assert auvo_puts(sims) == 4 and sorted(external_ids(sims)) == sorted(str(c["id"]) for c in contacts)


def test_list_filters_show_and_reading_never_loses_or_renames(app: App, cli: Cli) -> None:
    a = put_dead_letter(app, event_id="aaaa0001-x", error_class="ApiRejected", age=timedelta(minutes=5))
    b = put_dead_letter(
        app,
        event_id="bbbb0002-x",
        error_class="AuvoApiDeactivated",
        consumer="to-auvo.customers",
        event_type="bling.contact.changed",
        age=timedelta(hours=3),
    )
    c = put_dead_letter(app, event_id=None, body=b"\xff\x00 not json", error_class="ContractViolation")
    ids = {a.id, b.id, c.id}
    assert c.id.startswith("sha256:")

    def listed(*args: str) -> set[str]:
        return {row["id"] for row in cli.json("dlq", "list", *args)}

    for _ in range(4):  # every read holds and returns every message; nothing may drop or change id
        assert listed() == ids
    assert listed("--error-class", "ApiRejected") == {a.id}
    assert listed("-e", "Auvo*", "-e", "contract*") == {b.id, c.id}
    assert listed("--event-type", "bling.*") == {b.id}
    assert listed("--consumer", "to-auvo.customers") == {b.id}
    assert listed("--older-than", "1h") == {b.id}
    assert listed("--newer-than", "30m") == {a.id, c.id}
    assert len(listed("--limit", "2")) == 2
    assert dlq_depth(app) == 3

    shown = cli.json("dlq", "show", c.id)
    assert shown["body"] == {"base64": "/wAgbm90IGpzb24="} and shown["error_class"] == "ContractViolation"
    assert cli("dlq", "show", "nope-not-there").exit_code == 1
    bad = cli("dlq", "list", "--older-than", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_replay_is_removed_only_after_confirm_and_dry_run_changes_nothing(app: App, cli: Cli) -> None:
    good = put_dead_letter(app, event_id="good-0001", consumer="to-bling.contacts")
    lost = put_dead_letter(app, event_id="lost-0001", consumer="to-nowhere.at-all")

    dry = cli.json("dlq", "replay", "--all", "--dry-run")
    assert {(r["id"], r["target"]) for r in dry["would_replay"]} == {
        (good.id, app.topology.name("to-bling.contacts")),
        (lost.id, app.topology.name("to-nowhere.at-all")),
    }
    assert dlq_depth(app) == 2
    assert cli("dlq", "replay").exit_code == 2  # no ID, no filter, no --all

    result = cli("dlq", "replay", "--all")
    assert result.exit_code == 1
    assert "replayed 1, failed 1" in result.stdout and "unroutable" in result.stderr
    # the unroutable one is still in the DLQ; the other is in its consumer's queue, reset
    assert [r["id"] for r in cli.json("dlq", "list")] == [lost.id]
    with DlqSession(app.settings.amqp_url, app.topology) as session:
        message = session._read.basic_get(queue=app.topology.name("to-bling.contacts"), no_ack=True)
    headers = message.properties["application_headers"]
    assert Envelope.from_json(message.body).event_id == good.id
    assert headers["x-attempts"] == 0 and headers["x-replay-count"] == 1
    assert "x-error-class" not in headers and headers["x-original-routing-key"] == "auvo.customer.changed"


def test_purge_by_filter_asks_first(app: App, cli: Cli) -> None:
    keep = put_dead_letter(app, event_id="keep-0001", error_class="ApiRejected")
    drop = [put_dead_letter(app, event_id=f"drop-000{i}", error_class="NotFound") for i in range(2)]

    assert cli("dlq", "purge").exit_code == 2
    refused = cli("dlq", "purge", "--error-class", "NotFound", input="n\n")
    assert refused.exit_code == 1 and "nothing purged" in refused.stderr
    assert dlq_depth(app) == 3
    accepted = cli("dlq", "purge", "--error-class", "NotFound", input="y\n")
    assert accepted.exit_code == 0 and "purged 2" in accepted.stdout
    assert [r["id"] for r in cli.json("dlq", "list")] == [keep.id]
    assert cli("dlq", "purge", drop[0].id, "--yes").exit_code == 1  # already gone
    assert cli("dlq", "purge", keep.id, "--yes").exit_code == 0
    assert dlq_depth(app) == 0


def test_export_import_round_trip(app: App, cli: Cli, tmp_path: Path) -> None:
    letters = [
        put_dead_letter(
            app, event_id="exp-0001", **{"x-http-status": 422, "x-field-errors": '[{"msg":"x"}]'}
        ),
        put_dead_letter(app, event_id=None, body=b"\x80\x81 binary", error_class="ContractViolation"),
        put_dead_letter(
            app, event_id="exp-0003", consumer="to-auvo.customers", event_type="bling.contact.changed"
        ),
    ]
    file = tmp_path / "dlq.jsonl"
    assert cli.json("dlq", "export", str(file)) == {"exported": 3, "file": str(file)}
    assert dlq_depth(app) == 3  # export leaves them where they are
    lines = [json.loads(line) for line in file.read_text().splitlines()]
    assert {line["id"] for line in lines} == {dl.id for dl in letters}
    assert any("body_base64" in line for line in lines)

    assert cli("dlq", "purge", "--all", "--yes").exit_code == 0
    assert cli.json("dlq", "import", str(file)) == {"imported": 3, "file": str(file)}
    after = {row["id"]: row for row in cli.json("dlq", "list")}
    assert set(after) == {dl.id for dl in letters}
    for dl in letters:
        shown = cli.json("dlq", "show", dl.id)
        assert shown["routing_key"] == dl.routing_key and shown["error_class"] == dl.error_class
        assert {k: v for k, v in shown["headers"].items() if k != "x-delivery-count"} == {
            k: v for k, v in dl.headers.items()
        }

    (tmp_path / "bad.jsonl").write_text('{"id": "x", "body": "{}"}\nnot json\n')
    bad = cli("dlq", "import", str(tmp_path / "bad.jsonl"))
    assert bad.exit_code == 2 and "bad.jsonl:2" in bad.output
    assert dlq_depth(app) == 3  # nothing of the bad file was published


class Crash(BaseException):
    """What a handler that takes its process down looks like to the runner (not an Exception)."""


def test_a_message_that_crashes_its_consumer_is_dead_lettered_by_the_delivery_limit(
    make_app: Callable[..., App], tmp_path: Path
) -> None:
    app = make_app(bus={"delivery_limit": 2})
    app.declare_topology()
    cli = Cli(config_for(app, tmp_path / "crash.toml"))
    publisher = app.publisher()
    poison = put_envelope(app, publisher, "poison-0001", TO_BLING_CONTACTS)
    calls: list[str] = []

    def crashing(envelope: Envelope) -> str:
        calls.append(envelope.event_id)
        raise Crash("the handler took the process down")

    crashes_before = metric("auvo_bling_consumer_crashes_total", consumer=TO_BLING_CONTACTS.name)
    for _ in range(6):  # a supervisor restarting the consumer after every crash
        worker = QueueWorker(app.settings.amqp_url, app.topology, {TO_BLING_CONTACTS: crashing}, publisher)
        thread = threading.Thread(target=_run_until_crash, args=(worker,), daemon=True)
        thread.start()
        wait_until(lambda: not thread.is_alive() or dlq_depth(app) == 1, 15, "a crash or the DLQ")  # noqa: B023
        worker.stop()
        thread.join(10)
        if dlq_depth(app) == 1:
            break
    assert calls == [poison] * 3  # delivered delivery_limit + 1 times, then never again
    assert metric("auvo_bling_consumer_crashes_total", consumer=TO_BLING_CONTACTS.name) - crashes_before == 3
    [row] = cli.json("dlq", "list")
    assert row["id"] == poison and row["error_class"] == "DeliveryLimitExceeded"
    assert row["consumer"] == TO_BLING_CONTACTS.name and "crashed" in row["hint"]
    assert cli.json("dlq", "show", poison)["headers"]["x-first-death-reason"] == "delivery_limit"
    # once the consumer is fixed, the poison message goes back to its own queue
    assert cli.json("dlq", "replay", poison)["replayed"] == [
        {"id": poison, "target": app.topology.name(TO_BLING_CONTACTS.name)}
    ]


def _run_until_crash(worker: QueueWorker) -> None:
    with contextlib.suppress(Crash):
        worker.run()


def test_per_consumer_retry_override_and_metrics(make_app: Callable[..., App]) -> None:
    app = make_app(
        bus={
            "max_attempts": 4,
            "retry_delays_seconds": [0.2],
            "overrides": {"to-bling.contacts": {"max_attempts": 2, "retry_delays_seconds": [0.1]}},
        }
    )
    bus = app.settings.bus
    topology = Topology.from_settings(bus)
    connection = make_connection(app.settings.amqp_url)
    try:
        topology.declare(connection)
    finally:
        connection.release()
    publisher = app.publisher()
    attempts: dict[str, int] = {}

    def failing(envelope: Envelope) -> str:
        attempts[envelope.event_id] = attempts.get(envelope.event_id, 0) + 1
        raise ApiUnavailable("Bling answered 503")

    server = metrics.start_metrics_server(0)
    before = {
        q.name: metric("auvo_bling_retries_total", consumer=q.name, error_class="ApiUnavailable")
        for q in (TO_BLING_CONTACTS, TO_AUVO_CUSTOMERS)
    }
    worker = QueueWorker(
        app.settings.amqp_url,
        topology,
        {TO_BLING_CONTACTS: failing, TO_AUVO_CUSTOMERS: failing},
        publisher,
        policy=RetryPolicy.from_settings(bus),
        overrides=retry_overrides(bus),
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        contacts = put_envelope(app, publisher, "ovr-contacts", TO_BLING_CONTACTS, topology)
        customers = put_envelope(app, publisher, "ovr-customers", TO_AUVO_CUSTOMERS, topology)
        wait_until(lambda: dlq_depth(app) == 2, 20, "both dead-lettered")
        scrape = httpx.get(f"{server.url}/metrics", timeout=5).text
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        worker.stop()
        thread.join(10)
        server.stop()
    assert attempts == {contacts: 2, customers: 4}
    with DlqSession(app.settings.amqp_url, topology) as session:
        letters = {h.letter.id: h.letter for h in session.scan()}
    assert letters[contacts].attempts == 2 and letters[customers].attempts == 4
    assert letters[contacts].error_class == "ApiUnavailable"
    for q, retries in ((TO_BLING_CONTACTS, 1), (TO_AUVO_CUSTOMERS, 3)):
        labels = {"consumer": q.name, "error_class": "ApiUnavailable"}
        assert metric("auvo_bling_retries_total", **labels) - before[q.name] == retries
    assert (
        'auvo_bling_dead_letters_total{consumer="to-bling.contacts",error_class="ApiUnavailable"}' in scrape
    )


def test_dlq_commands_on_the_embedded_bus_are_a_configuration_error(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUVO_BLING_")}
    clean.pop("AMQP_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "auvo_bling.cli", "dlq", "list"],
        env={**clean, "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "need RabbitMQ" in result.stderr and result.stdout == ""


def metric(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0
