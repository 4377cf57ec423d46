"""The tenant gate: a pause shared through the store, read at most once a second per process."""

from __future__ import annotations

from pathlib import Path

from infra import metrics
from infra.errors import AuvoApiDeactivated, BlingAuthorizationRevoked
from infra.store import Store
from infra.tenant_gate import TenantGate


def gauge(tenant: str) -> float:
    return metrics.TENANT_PAUSED.labels(tenant=tenant)._value.get()


def test_a_pause_is_seen_by_every_gate_and_the_first_cause_is_kept(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    clock = [0.0]
    here, there = TenantGate(store, "acme", clock=lambda: clock[0]), TenantGate(store, "acme")
    other = TenantGate(store, "beta")
    assert here.is_open() and there.is_open()
    there.pause(AuvoApiDeactivated("Object reference not set to an instance of an object."))
    there.pause(BlingAuthorizationRevoked("refresh refused"))  # a later symptom of the same outage
    assert here.is_open()  # cached for a second
    assert here.pause_of(fresh=True) is not None  # unless asked fresh (before parking an event)
    clock[0] += 1.0
    pause = here.pause_of()
    assert pause is not None and pause.error_class == "AuvoApiDeactivated"
    assert "turn it on in Auvo" in pause.hint
    assert other.is_open()  # another tenant is not paused
    assert gauge("acme") == 1
    store.resume_tenant("acme")
    clock[0] += 1.0
    assert here.is_open() and gauge("acme") == 0


def test_only_account_level_errors_pause() -> None:
    from infra.errors import ApiRejected, ApiUnavailable, AuvoCredentialsInvalid, BlingNotAuthorized

    assert AuvoApiDeactivated.pauses_tenant and AuvoCredentialsInvalid.pauses_tenant
    assert BlingAuthorizationRevoked.pauses_tenant and BlingNotAuthorized.pauses_tenant
    assert not ApiRejected.pauses_tenant and not ApiUnavailable.pauses_tenant
