"""Persisted state is keyed by the flow's stable id, so a renamed work queue keeps idempotency.

Through the Auvo and Bling simulators, SQLite and kombu's in-memory bus: an event handled once,
then the same event delivered on a queue of another name, bound to the same flow.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from kombu import Connection
from sqlalchemy import text

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from consumers.base import CREATED
from infra.bus.runner import QueueWorker
from infra.bus.topology import ALL_WORK_QUEUES, TO_BLING_CONTACTS
from tests.support import Capture, Simulators, build_settings, wait_until


def test_flow_ids_are_unique_and_not_queue_names() -> None:
    flows = [wq.flow for wq in ALL_WORK_QUEUES]
    assert len(set(flows)) == len(flows)
    assert not {wq.name for wq in ALL_WORK_QUEUES} & set(flows)


def test_an_event_processed_before_its_queue_was_renamed_stays_processed(
    sims: Simulators, tmp_path: Path
) -> None:
    url = "memory://"
    database = f"sqlite:///{tmp_path / 's.sqlite3'}"
    app = App(build_settings(url, database, sims, customers={"direction": "auvo_to_bling"}))
    authorize_headless(app)
    customer = sims.auvo.add_customer("Frio & Cia Ltda", cpfCnpj="11444777000161")
    capture = Capture()
    for poller in app.pollers(capture):  # type: ignore[arg-type]
        poller.poll_once()
    [event] = [e for e in capture.published if e.entity_id == str(customer["id"])]
    handler = app.handlers()[TO_BLING_CONTACTS]
    assert handler(event) == CREATED
    assert app.store.is_processed(app.tenant, TO_BLING_CONTACTS.flow, event.event_id)

    renamed = dataclasses.replace(TO_BLING_CONTACTS, name="contatos-do-auvo.v2")
    with Connection(url) as conn:
        app.topology.declare(conn, (renamed,))
    publisher = app.publisher()
    worker = QueueWorker(url, app.topology, {renamed: handler}, publisher)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        publisher.publish(event)
        wait_until(lambda: worker.stats["skipped_duplicate"] == 1, 15, "the redelivery on the renamed queue")
    finally:
        worker.stop()
        thread.join(10)
        app.close()
    assert sims.bling.writes[("POST", "contatos")] == 1
    assert dict(worker.stats).get("created", 0) == 0
    # nothing persisted names a queue: renaming one cannot make an event look new
    queue_names = {wq.name for wq in ALL_WORK_QUEUES}
    with app.store.engine.connect() as conn:
        keys = {row[0] for table in ("processed_events", "applied_versions", "write_intents")
                for row in conn.execute(text(f"SELECT consumer FROM {table}"))}
    counters = {name.rpartition(".")[0] for name in app.store.counters(app.tenant)}
    assert keys and counters
    assert not (keys | counters) & queue_names, keys | counters


def test_every_wired_handler_keeps_its_state_under_its_flow_id(sims: Simulators, tmp_path: Path) -> None:
    settings = build_settings(
        "memory://",
        f"sqlite:///{tmp_path / 's.sqlite3'}",
        sims,
        customers={"direction": "both"},
        tasks={"enabled": True, "outcome": True},
        quotes={"enabled": True},
        expenses={"enabled": True},
        catalog={"bling_to_auvo": True},
    )
    app = App(settings)
    try:
        handlers = app.handlers()
        assert set(handlers) == set(ALL_WORK_QUEUES)
        assert {wq: h.consumer for wq, h in handlers.items()} == {wq: wq.flow for wq in handlers}  # type: ignore[attr-defined]
    finally:
        app.close()
