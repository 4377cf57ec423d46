"""The two bus layouts: per-tenant prefixes, or one shared set with live and bulk queues."""

from __future__ import annotations

from infra.bus.topology import ALL_WORK_QUEUES, TO_BLING_CONTACTS, Topology
from infra.settings import Settings


def _settings(topology: str) -> Settings:
    return Settings(
        amqp_url="memory://",
        database_url="sqlite://",
        bus={"prefix": "p.", "topology": topology, "bulk_batch_min": 3},
        tenants={"acme": {}},
    )


def test_per_tenant_layout_gives_a_named_tenant_its_own_prefix_and_no_bulk_queues() -> None:
    settings = _settings("per_tenant")
    assert settings.for_tenant("acme").bus.prefix == "p.acme."
    topology = Topology.from_settings(settings.for_tenant("acme").bus)
    assert not topology.shared
    assert topology.consumed() == ALL_WORK_QUEUES
    assert topology.routing_key("auvo.customer.changed", batch=500) == "auvo.customer.changed"


def test_shared_layout_keeps_one_prefix_and_sends_large_batches_to_bulk_queues() -> None:
    settings = _settings("shared")
    assert settings.for_tenant("acme").bus.prefix == "p."
    topology = Topology.from_settings(settings.bus)
    consumed = topology.consumed()
    assert len(consumed) == 2 * len(ALL_WORK_QUEUES)
    bulk = TO_BLING_CONTACTS.as_bulk()
    assert bulk in consumed
    assert (bulk.name, bulk.routing_key, bulk.base_name) == (
        "to-bling.contacts.bulk",
        "bulk.auvo.customer.changed",
        "to-bling.contacts",
    )
    assert bulk.flow == TO_BLING_CONTACTS.flow  # the same flow: processed ids, versions, counters
    assert topology.routing_key("auvo.customer.changed", batch=2) == "auvo.customer.changed"
    assert topology.routing_key("auvo.customer.changed", batch=3) == "bulk.auvo.customer.changed"
    # the bulk queue is bound by its own key, and its retries come back to it
    assert topology.work_queue(bulk).routing_key == "bulk.auvo.customer.changed"
    [first, *_] = topology.delay_queues(bulk)
    assert first.queue_arguments["x-dead-letter-routing-key"] == "p.to-bling.contacts.bulk"


def test_bulk_queue_takes_its_flows_retry_override() -> None:
    settings = Settings(
        amqp_url="memory://",
        database_url="sqlite://",
        bus={"topology": "shared", "overrides": {"to-bling.contacts": {"retry_delays_seconds": [2.0]}}},
    )
    topology = Topology.from_settings(settings.bus)
    assert topology.delays_for(TO_BLING_CONTACTS.as_bulk()) == [2.0]


class _BrokenApp:
    tenant = "acme"
    gate = None

    def handlers(self) -> dict:
        raise ValueError("tasks.status_ids: not a number")


def test_a_company_whose_handlers_cannot_be_built_fails_its_events_not_the_pool() -> None:
    import pytest

    from auvo_bling.shared_consumers import TenantRoutes

    routes = TenantRoutes(lambda tenant: _BrokenApp() if tenant == "acme" else None)  # type: ignore[arg-type,return-value]
    assert routes("ghost") is None  # not served: refused as TenantMismatch by the worker
    route = routes("acme")
    assert route is not None
    handler = route.handlers[TO_BLING_CONTACTS.flow]
    with pytest.raises(ValueError, match="status_ids"):  # retried, then dead-lettered with it
        handler(None)  # type: ignore[arg-type]
