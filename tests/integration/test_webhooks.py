"""Webhooks end to end: the receiver over HTTP, both simulators sending, the real broker and database.

The simulators deliver from their own background thread, as the providers would; `flush()` waits
for what they queued. Where the bus is not the point, a recording publisher stands in for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kombu import Connection

from auvo_bling.authorize import authorize_headless
from auvo_bling.runtime import start
from auvo_bling.wiring import App
from consumers.base import CREATED, DUPLICATE
from consumers.sales.documents import DELETED_IN_BLING
from contracts.store_keys import JOB_ORDER
from infra.bus.topology import TO_BLING_CONTACTS, TO_BLING_ORDERS
from producers.auvo_customers import AuvoCustomerPoller
from producers.auvo_tasks import AuvoTaskPoller
from producers.webhooks.receiver import create_webhook_app
from producers.webhooks.verification import bling_signature
from simulators.server import RunningServer, serve_in_thread
from tests.ops_support import Cli, wait_until, write_config
from tests.support import CLIENT_ID, CLIENT_SECRET, Capture, Clock, Simulators, build_settings

pytestmark = pytest.mark.integration

AUVO_SECRET = "auvo-hook-secret-0123456789abcdef"
FILTER_ID = "63867f52-b262-410a-a409-cc25ba92ded1"


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    running: list[RunningServer] = []
    yield running
    for server in running:
        server.stop()


@pytest.fixture
def make_app(sims: Simulators, tmp_path: Path) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(amqp_url: str = "memory://", database_url: str | None = None, **overrides: Any) -> App:
        overrides.setdefault("customers", {"direction": "auvo_to_bling"})
        overrides.setdefault("webhooks", {"enabled": True, "auvo_secret": AUVO_SECRET})
        database_url = database_url or f"sqlite:///{tmp_path / f'store-{len(apps)}.sqlite3'}"
        app = App(build_settings(amqp_url, database_url, sims, **overrides))
        authorize_headless(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def serve_receiver(app: App, servers: list[RunningServer], publisher: Any = None) -> str:
    """The receiver over real HTTP; returns its base URL."""
    server = serve_in_thread(create_webhook_app(app.webhook_receiver(publisher)))
    servers.append(server)
    return server.url


def auvo_hook(base: str) -> str:
    return f"{base}/webhooks/auvo/{AUVO_SECRET}"


def queue_depth(amqp_url: str, app: App, queue: str) -> int:
    with Connection(amqp_url) as conn, conn.channel() as channel:
        return channel.queue_declare(app.topology.name(queue), passive=True).message_count


def notifier_body(record: dict[str, Any], date: str, entity_type: str = "Cliente") -> dict[str, Any]:
    return {
        "result": {
            "EntityType": entity_type,
            "Action": "Alteracao",
            "EntityId": record["id"],
            "UserAdminId": 1,
            "WebhookId": 1,
            "Date": date,
            "Entities": [record],
        }
    }


def signed_post(url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Bling-Signature-256"] = signature
    return httpx.post(url, content=body, headers=headers, timeout=10)


# --- rejected notifications publish nothing ------------------------------------------------------------


def test_invalid_notifications_are_rejected_and_publish_nothing(
    make_app: Callable[..., App],
    sims: Simulators,
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    servers: list[RunningServer],
) -> None:
    app = make_app(amqp_url, pg_url, bus={"prefix": bus_prefix}, webhooks={"auvo_secret": AUVO_SECRET})
    app.declare_topology()
    base = serve_receiver(app, servers)
    customer = sims.auvo.add_customer("Padaria Pão Quente")
    fresh = sims.auvo.now_str()

    order = json.dumps(
        {
            "eventId": "e1",
            "date": datetime.now().astimezone().isoformat(),
            "event": "order.updated",
            "data": {"id": 1},
        }
    ).encode()
    assert signed_post(f"{base}/webhooks/bling", order, None).status_code == 401
    assert signed_post(f"{base}/webhooks/bling", order, "sha256=" + "0" * 64).status_code == 401
    assert (
        signed_post(f"{base}/webhooks/bling", order, bling_signature(order, "not-the-secret")).status_code
        == 401
    )
    big = json.dumps({**json.loads(order), "pad": "x" * (300 * 1024)}).encode()
    assert signed_post(f"{base}/webhooks/bling", big, bling_signature(big, CLIENT_SECRET)).status_code == 413

    hook = auvo_hook(base)
    assert httpx.post(hook + "x", json=notifier_body(customer, fresh)).status_code == 401
    assert httpx.post(hook, content=b"{oops", headers={"content-type": "application/json"}).status_code == 400
    old = (sims.auvo.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    assert httpx.post(hook, json=notifier_body(customer, old)).status_code == 409  # replayed
    oversized = {**notifier_body(customer, fresh), "pad": "x" * (300 * 1024)}
    assert httpx.post(hook, json=oversized).status_code == 413

    assert queue_depth(amqp_url, app, TO_BLING_CONTACTS.name) == 0
    # the same notification, valid, is published and confirmed before the 200
    answer = httpx.post(hook, json=notifier_body(customer, fresh))
    assert answer.status_code == 200 and answer.json()["published"] == 1
    assert queue_depth(amqp_url, app, TO_BLING_CONTACTS.name) == 1


# --- a duplicate notification produces one write ---------------------------------------------------------


def test_duplicate_notifications_produce_one_write(
    make_app: Callable[..., App],
    sims: Simulators,
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    servers: list[RunningServer],
) -> None:
    app = make_app(amqp_url, pg_url, bus={"prefix": bus_prefix})
    app.declare_topology()
    # two receivers (as behind a load balancer), so duplicates reach the bus and the consumer
    for _ in range(2):
        sims.auvo.add_webhook("Customer", "Inclusao", auvo_hook(serve_receiver(app, servers)))
    sims.auvo.webhooks.configure(duplicate_rate=1.0, reorder_rate=0.5, seed=3)
    running = start(app, producers=False)
    try:
        customer = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj="11444777000161")
        assert sims.auvo.webhooks.flush(20)
        marker = f"AUVO-{customer['id']}"
        wait_until(
            lambda: any(c.get("codigo") == marker for c in list(sims.bling.contacts.values())),
            20,
            "the contato",
        )
        wait_until(lambda: running.consumer_stats().get(DUPLICATE, 0) >= 1, 20, "a duplicate dropped")
    finally:
        running.stop()
    assert sum(1 for d in sims.auvo.webhooks.deliveries if d.duplicate) == 2
    assert sims.auvo.webhooks.delivered == 4
    assert sims.bling.writes[("POST", "contatos")] == 1


# --- a change travels by webhook while polling is effectively off -------------------------------------------


def test_customer_change_reaches_bling_by_webhook_with_pollers_idle(
    make_app: Callable[..., App],
    sims: Simulators,
    amqp_url: str,
    pg_url: str,
    bus_prefix: str,
    servers: list[RunningServer],
    clock: Clock,
) -> None:
    app = make_app(
        amqp_url,
        pg_url,
        bus={"prefix": bus_prefix},
        # polls an hour apart, even right after a push: the change can only travel by webhook
        poll={"interval_seconds": 3600, "overlap_seconds": 5},
        webhooks={"enabled": True, "auvo_secret": AUVO_SECRET, "poll_interval_seconds": 3600},
    )
    assert app.settings.poll_interval() == 3600
    customer = sims.auvo.add_customer("Padaria Pão Quente", cpfCnpj="11444777000161")
    app.declare_topology()
    sims.auvo.add_webhook("Customer", "Alteracao", auvo_hook(serve_receiver(app, servers)))
    running = start(app)  # the pollers' first pass is the backfill; the next one is an hour away
    try:
        wait_until(lambda: sims.bling.writes[("POST", "contatos")] == 1, 20, "the backfill")
        clock.tick()
        sims.auvo.update_customer(customer["id"], description="Padaria Pão Quente & Cia")
        wait_until(
            lambda: any(
                c.get("nome") == "Padaria Pão Quente & Cia" for c in list(sims.bling.contacts.values())
            ),
            10,
            "the change, by webhook",
        )
    finally:
        running.stop()
    heard = app.store.last_heard(app.tenant)["auvo.customers"]
    assert set(heard) == {"webhook", "poll"}


# --- the webhook and the poller agree on the event ---------------------------------------------------------


def test_webhook_and_poller_publish_the_same_event_ids(
    make_app: Callable[..., App], sims: Simulators, servers: list[RunningServer], clock: Clock
) -> None:
    app = make_app(tasks={"enabled": True, "status": "finished_auto_or_manual"})
    hooked = Capture()
    hook = auvo_hook(serve_receiver(app, servers, hooked))
    for entity in ("Customer", "Task"):
        for action in ("Inclusao", "Alteracao"):
            sims.auvo.add_webhook(entity, action, hook)
    customer = sims.auvo.add_customer("Oficina Boa Vista", cpfCnpj="11444777000161")
    clock.tick()
    sims.auvo.update_customer(customer["id"], email=["oficina@boavista.com.br"])
    line = {"productId": FILTER_ID, "name": "Filtro", "quantity": 2, "unitaryValue": 35.9, "totalValue": 71.8}
    task = sims.auvo.add_task(customer["id"], finished=True, products=[line])
    clock.tick()
    sims.auvo.update_record("tasks", task["taskID"], orientation="Trocar o filtro")
    assert sims.auvo.webhooks.flush(10)
    by_webhook = {e.event_id for e in hooked.take()}

    polled = Capture()
    for poller in app.pollers(polled):  # type: ignore[arg-type]
        assert isinstance(poller, AuvoCustomerPoller | AuvoTaskPoller)
        poller.poll_once()
    by_poll = {e.event_id for e in polled.take()}
    # the poll sees the latest state of each record; every one of those the webhook saw too
    assert by_poll and by_poll <= by_webhook
    assert len(by_webhook) == 4  # customer created, changed; task created, changed


# --- registering in Auvo -----------------------------------------------------------------------------------


def test_register_list_unregister_against_the_auvo_simulator(
    make_app: Callable[..., App], sims: Simulators, tmp_path: Path
) -> None:
    app = make_app()
    s = app.settings
    config = write_config(
        tmp_path / "hooks.toml",
        {
            "database_url": s.database_url,
            "secret_key": s.secret_key.get_secret_value() if s.secret_key else None,
            "auvo": {
                "base_url": s.auvo.base_url,
                "api_key": sims.auvo.api_key,
                "api_token": sims.auvo.api_token,
            },
            "webhooks": {"auvo_secret": AUVO_SECRET},
        },
    )
    cli = Cli(config)
    foreign = sims.auvo.add_webhook("Task", "Inclusao", "https://erp.example.com/auvo")

    first = cli("webhooks", "register", "--url", "https://hooks.acme.test/")
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 6 and AUVO_SECRET not in first.output
    again = cli("webhooks", "register", "--url", "https://hooks.acme.test")
    assert again.exit_code == 0 and again.output.count("kept") == 6  # idempotent
    hooks = [h for h in sims.auvo.records["webHooks"].values() if h["id"] != foreign["id"]]
    assert {(h["entity"], h["action"]) for h in hooks} == {
        (e, a) for e in ("Customer", "Task") for a in ("Inclusao", "Alteracao", "Exclusao")
    }
    assert {h["urlResponse"] for h in hooks} == {f"https://hooks.acme.test/webhooks/auvo/{AUVO_SECRET}"}

    listed = cli("webhooks", "list")
    assert listed.exit_code == 0 and AUVO_SECRET not in listed.output
    assert listed.output.count("<secret>") == 6 and "erp.example.com" in listed.output

    one = hooks[0]["id"]
    assert cli("webhooks", "unregister", str(one)).exit_code == 0
    assert one not in sims.auvo.records["webHooks"]
    gone = cli("webhooks", "unregister", "--all")
    assert gone.exit_code == 0 and gone.output.count("deleted") == 5
    assert list(sims.auvo.records["webHooks"]) == [foreign["id"]]  # someone else's webhook stays


# --- a pedido deleted in Bling ------------------------------------------------------------------------


def _task_flow(app: App) -> tuple[AuvoTaskPoller, Capture, Callable[[], list[str]]]:
    publisher = Capture()
    [poller] = [p for p in app.pollers(publisher) if isinstance(p, AuvoTaskPoller)]  # type: ignore[arg-type]
    handler = app.handlers()[TO_BLING_ORDERS]

    def run() -> list[str]:
        poller.poll_once()
        return [handler(e) for e in publisher.take()]

    return poller, publisher, run


def test_pedido_deleted_in_bling_is_forgotten_and_not_recreated(
    make_app: Callable[..., App], sims: Simulators, servers: list[RunningServer], clock: Clock
) -> None:
    app = make_app(tasks={"enabled": True})
    sims.bling.configure_webhooks(f"{serve_receiver(app, servers, Capture())}/webhooks/bling", CLIENT_ID)
    sims.bling.webhooks.configure(duplicate_rate=0.5, seed=5)
    customer = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj="11444777000161")
    line = {"productId": FILTER_ID, "name": "Filtro", "quantity": 2, "unitaryValue": 35.9, "totalValue": 71.8}
    task = sims.auvo.add_task(customer["id"], finished=True, products=[line])
    _, _, run = _task_flow(app)
    assert run() == [CREATED]
    order_id = app.store.bling_id_for(app.tenant, JOB_ORDER, str(task["taskID"]))
    assert order_id is not None

    sims.bling.delete_record("pedidos/vendas", int(order_id))  # a Bling user deletes it
    assert sims.bling.webhooks.flush(10)
    assert app.store.bling_id_for(app.tenant, JOB_ORDER, str(task["taskID"])) is None
    assert app.store.is_deleted_in_bling(app.tenant, JOB_ORDER, str(task["taskID"]))
    assert "webhook" in app.store.last_heard(app.tenant)["bling.orders"]

    reads = sims.bling.calls[("GET", "pedidos/vendas")]
    clock.tick()
    sims.auvo.update_record("tasks", task["taskID"], orientation="Voltar na sexta")
    assert run() == [DELETED_IN_BLING]
    assert sims.bling.records["pedidos/vendas"] == {}
    assert sims.bling.calls[("GET", "pedidos/vendas")] == reads  # decided without asking Bling

    # the operator decides it should exist after all
    assert (
        Cli(_config(app, sims, Path(app.settings.database_url.removeprefix("sqlite:///")).parent))(
            "webhooks", "allow-recreate", JOB_ORDER, str(task["taskID"])
        ).exit_code
        == 0
    )
    clock.tick()
    sims.auvo.update_record("tasks", task["taskID"], orientation="Voltar na segunda")
    assert run() == [CREATED]
    assert len(sims.bling.records["pedidos/vendas"]) == 1


def test_pedido_deleted_while_no_webhook_came_is_noticed_once(
    make_app: Callable[..., App], sims: Simulators, clock: Clock
) -> None:
    """Without the notification (webhooks off, or lost), the 404 is the news: once, then no more reads."""
    app = make_app(tasks={"enabled": True})
    customer = sims.auvo.add_customer("Clínica Sorriso Ltda", cpfCnpj="11444777000161")
    line = {"productId": FILTER_ID, "name": "Filtro", "quantity": 2, "unitaryValue": 35.9, "totalValue": 71.8}
    task = sims.auvo.add_task(customer["id"], finished=True, products=[line])
    _, _, run = _task_flow(app)
    assert run() == [CREATED]
    sims.bling.delete_record(
        "pedidos/vendas", int(app.store.bling_id_for(app.tenant, JOB_ORDER, str(task["taskID"])))
    )
    results = []
    for note in ("um", "dois", "três"):
        clock.tick()
        sims.auvo.update_record("tasks", task["taskID"], orientation=note)
        before = sims.bling.calls[("GET", "pedidos/vendas")]
        results += run()
        reads = sims.bling.calls[("GET", "pedidos/vendas")] - before
    assert results == [DELETED_IN_BLING] * 3
    assert reads == 0  # the last two decided from the store: no 404 loop
    assert sims.bling.records["pedidos/vendas"] == {}


def _config(app: App, sims: Simulators, directory: Path) -> Path:
    s = app.settings
    return write_config(
        directory / "ops.toml",
        {
            "database_url": s.database_url,
            "secret_key": s.secret_key.get_secret_value() if s.secret_key else None,
            "auvo": {
                "base_url": s.auvo.base_url,
                "api_key": sims.auvo.api_key,
                "api_token": sims.auvo.api_token,
            },
        },
    )


# --- a push brings a stretched poller back to its fast interval --------------------------------------------


def test_a_webhook_snaps_the_idle_pollers_interval_back(
    make_app: Callable[..., App], sims: Simulators, servers: list[RunningServer], clock: Clock
) -> None:
    from datetime import UTC

    from producers.polling import SCHEDULE_PREFIX

    app = make_app(
        poll={"interval_seconds": 0.3, "max_interval_seconds": 0.3, "overlap_seconds": 5},
        webhooks={"enabled": True, "auvo_secret": AUVO_SECRET, "poll_interval_seconds": 20},
    )
    customer = sims.auvo.add_customer("Serralheria Aço Forte", cpfCnpj="11444777000161")
    sims.auvo.add_webhook("Customer", "Alteracao", auvo_hook(serve_receiver(app, servers)))

    def schedule() -> dict[str, Any]:
        value = app.store.all_cursors(app.tenant).get(SCHEDULE_PREFIX + "auvo.customers")
        return json.loads(value[0]) if value else {"interval_seconds": 0.0, "next_pass_at": None}

    def far_from_next_pass() -> bool:
        entry = schedule()
        if entry["interval_seconds"] < 9.6:
            return False  # idle: 0.3, 0.6, 1.2, 2.4, 4.8, 9.6 s (the bound for pushed sources is 20 s)
        left = datetime.fromisoformat(entry["next_pass_at"]) - datetime.now(UTC)
        return left.total_seconds() >= 6

    running = start(app)
    try:
        wait_until(far_from_next_pass, 40, "the idle customers poller stretching to 9.6 s")
        clock.tick()
        sims.auvo.update_customer(customer["id"], description="Serralheria Aço Forte Ltda")
        # without the push the next pass is 6+ s away; the push brings it within the fast interval
        wait_until(lambda: schedule()["interval_seconds"] <= 0.6, 4, "the webhook snapping the poller back")
    finally:
        running.stop()
    assert "webhook" in app.store.last_heard(app.tenant)["auvo.customers"]
