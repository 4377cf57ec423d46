"""Per-consumer retry policies: settings, the runner's policy per queue, and the delay queues' TTLs."""

from __future__ import annotations

import pytest

from infra.bus.runner import RetryPolicy, carried_headers, retry_overrides
from infra.bus.topology import TO_AUVO_CUSTOMERS, TO_BLING_CONTACTS, Topology
from infra.errors import ConfigurationError
from infra.settings import Settings, load_settings


def bus_settings(**bus: object) -> Settings:
    return Settings(bus={"retry_delays_seconds": [1, 2, 3], "max_attempts": 4, **bus})


def test_an_override_replaces_only_what_it_names() -> None:
    bus = bus_settings(overrides={"to-bling.contacts": {"max_attempts": 2}}).bus
    assert bus.max_attempts_for("to-bling.contacts") == 2
    assert bus.retry_delays_for("to-bling.contacts") == [1, 2, 3]
    assert bus.max_attempts_for("to-auvo.customers") == 4
    policies = retry_overrides(bus)
    assert set(policies) == {"to-bling.contacts"}
    assert policies["to-bling.contacts"].max_attempts == 2
    assert RetryPolicy.from_settings(bus).max_attempts == 4


def test_override_delays_give_their_queue_its_own_delay_queues() -> None:
    bus = bus_settings(overrides={"to-bling.contacts": {"retry_delays_seconds": "0.2, 0.4"}}).bus
    topology = Topology.from_settings(bus)
    contacts = topology.delay_queues(TO_BLING_CONTACTS)
    assert [q.queue_arguments["x-message-ttl"] for q in contacts] == [251, 501]
    assert len(topology.delay_queues(TO_AUVO_CUSTOMERS)) == 3
    assert RetryPolicy.from_settings(bus, "to-bling.contacts").delays == [0.2, 0.4]


def test_env_json_override_and_unknown_queue_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUVO_BLING_BUS__OVERRIDES", '{"to-auvo.customers": {"max_attempts": 9}}')
    assert load_settings().bus.max_attempts_for("to-auvo.customers") == 9
    monkeypatch.setenv("AUVO_BLING_BUS__OVERRIDES", '{"to-nowhere": {"max_attempts": 9}}')
    with pytest.raises(ConfigurationError, match=r"unknown work queue.*to-nowhere"):
        load_settings()
    monkeypatch.setenv("AUVO_BLING_BUS__OVERRIDES", '{"to-auvo.customers": {"retry_delays_seconds": []}}')
    with pytest.raises(ConfigurationError, match="positive numbers"):
        load_settings()


def test_copies_carry_no_credentials_and_no_broker_headers() -> None:
    headers = carried_headers(
        {
            "event_id": "e",
            "Authorization": "Bearer abc",
            "x-api-token": "t",
            "x-death": [],
            "x-delivery-count": 3,
            "x-note": "see https://h/?apiKey=k-1",
        }
    )
    assert headers == {"event_id": "e", "x-note": "see https://h/?apiKey=***"}
