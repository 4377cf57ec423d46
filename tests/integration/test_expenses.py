"""Expenses -> contas a pagar through the simulators: once per expense, one contato per technician,
no duplicate after a crash between the create and its commit, updates while the conta is open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.wiring import App
from consumers.base import CREATED, DUPLICATE, UNCHANGED, UPDATED
from contracts.envelope import Envelope
from infra.bus.topology import TO_BLING_PAYABLES
from producers.auvo_expenses import AuvoExpensePoller
from tests.support import Simulators, build_settings


class Capture:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.events.append(envelope)


@pytest.fixture
def app(sims: Simulators, tmp_path: Path) -> Any:
    application = App(
        build_settings("memory://", f"sqlite:///{tmp_path / 'x.sqlite3'}", sims, expenses={"enabled": True})
    )
    authorize_headless(application)
    yield application
    application.close()


def expense(sims: Simulators, user: int, amount: float, desc: str = "Combustível") -> dict[str, Any]:
    return sims.auvo.add_record(
        "expenses", {"description": desc, "amount": amount, "userToId": user, "userToName": f"Técnico {user}"}
    )


def poll_and_deliver(app: App) -> list[str]:
    capture = Capture()
    [poller] = [p for p in app.pollers(capture) if isinstance(p, AuvoExpensePoller)]  # type: ignore[arg-type]
    poller.poll_once()
    handler = app.handlers()[TO_BLING_PAYABLES]
    return [handler(e) for e in capture.events]


def contas(sims: Simulators) -> list[dict[str, Any]]:
    with sims.bling.lock:
        return [dict(r) for r in sims.bling.records["contas/pagar"].values()]


def test_each_expense_becomes_one_conta_and_each_technician_one_contato(app: App, sims: Simulators) -> None:
    first = expense(sims, 1002, 87.5)
    expense(sims, 1002, 30.0, "Estacionamento")
    expense(sims, 1003, 12.0, "Almoço")
    assert sorted(poll_and_deliver(app)) == [CREATED] * 3
    assert sorted(c["numeroDocumento"] for c in contas(sims)) == sorted(
        f"AUVO-EXP-{e}" for e in sims.auvo.records["expenses"]
    )
    codigos = [c.get("codigo") for c in sims.bling.contacts.values()]
    assert sorted(codigos) == ["AUVO-USER-1002", "AUVO-USER-1003"]
    conta = next(c for c in contas(sims) if c["numeroDocumento"] == f"AUVO-EXP-{first['id']}")
    assert conta["valor"] == 87.5
    # a fresh producer (a restart) publishes the same events again: they change nothing
    assert poll_and_deliver(app) == [DUPLICATE] * 3
    assert len(contas(sims)) == 3


def test_a_changed_expense_updates_its_conta_and_a_redelivery_is_a_no_op(app: App, sims: Simulators) -> None:
    item = expense(sims, 1002, 50.0)
    capture = Capture()
    [poller] = [p for p in app.pollers(capture) if isinstance(p, AuvoExpensePoller)]  # type: ignore[arg-type]
    poller.poll_once()
    handler = app.handlers()[TO_BLING_PAYABLES]
    assert [handler(e) for e in capture.events] == [CREATED]
    assert [handler(e) for e in capture.events] == [DUPLICATE]
    sims.auvo.update_record("expenses", item["id"], amount=65.0)
    assert poll_and_deliver(app) == [UPDATED]
    assert [c["valor"] for c in contas(sims)] == [65.0]


def test_a_crash_between_create_and_commit_makes_no_second_conta(app: App, sims: Simulators) -> None:
    expense(sims, 1002, 40.0)
    capture = Capture()
    [poller] = [p for p in app.pollers(capture) if isinstance(p, AuvoExpensePoller)]  # type: ignore[arg-type]
    poller.poll_once()
    handler = app.handlers()[TO_BLING_PAYABLES]
    original_commit = handler.commit

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed before the commit")

    handler.commit = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        handler(capture.events[0])
    handler.commit = original_commit  # type: ignore[method-assign]
    assert handler(capture.events[0]) == UNCHANGED  # found by its numeroDocumento, not created again
    assert len(contas(sims)) == 1
