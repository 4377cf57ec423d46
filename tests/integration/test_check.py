"""`auvo-bling check` names the failing dependency and the way out, one failure mode at a time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from auvo_bling.authorize import authorize_headless
from auvo_bling.checks import run_checks
from auvo_bling.wiring import App
from tests.support import CLIENT_ID, CLIENT_SECRET, REDIRECT, Simulators, build_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def make_app(amqp_url: str, sims: Simulators, tmp_path: Path) -> Callable[..., App]:
    def make(**overrides: Any) -> App:
        database_url = overrides.pop("database_url", f"sqlite:///{tmp_path / 'check.sqlite3'}")
        broker_url = overrides.pop("amqp_url", amqp_url)
        return App(build_settings(broker_url, database_url, sims, **overrides))

    return make


def results(app: App) -> dict[str, tuple[bool, str]]:
    return {name: (ok, detail) for name, ok, detail in run_checks(app)}


def test_all_green_after_authorize(make_app: Callable[..., App]) -> None:
    app = make_app()
    authorize_headless(app)
    assert all(ok for ok, _ in results(app).values()), results(app)


def test_broker_unreachable(make_app: Callable[..., App]) -> None:
    out = results(make_app(amqp_url="amqp://guest:guest@127.0.0.1:1//"))
    assert out["broker"][0] is False and "unreachable" in out["broker"][1]
    assert out["database"][0] is True


def test_database_unreachable(make_app: Callable[..., App]) -> None:
    out = results(make_app(database_url="postgresql://postgres@127.0.0.1:1/none"))
    assert out["database"][0] is False and "unreachable" in out["database"][1]
    assert out["broker"][0] is True
    assert out["auvo"][0] is True  # the Auvo check does not need the database


def test_wrong_auvo_credentials(make_app: Callable[..., App], sims: Simulators) -> None:
    overrides = sims.settings_overrides()
    overrides["auvo"]["api_token"] = "wrong-token"
    ok, detail = results(make_app(auvo=overrides["auvo"]))["auvo"]
    assert not ok
    assert "AuvoCredentialsInvalid" in detail and "wrong Auvo API key or token" in detail
    assert "wrong-token" not in detail


def test_auvo_api_deactivated(make_app: Callable[..., App], sims: Simulators) -> None:
    sims.auvo.api_deactivated = True
    ok, detail = results(make_app())["auvo"]
    assert not ok
    assert "AuvoApiDeactivated" in detail
    assert "turn it on in Auvo > Integrações" in detail


def test_bling_not_authorized(make_app: Callable[..., App]) -> None:
    ok, detail = results(make_app())["bling"]
    assert not ok
    assert "BlingNotAuthorized" in detail and "auvo-bling authorize" in detail


def test_bling_authorization_revoked(make_app: Callable[..., App], sims: Simulators) -> None:
    app = make_app()
    authorize_headless(app)
    sims.bling.revoke_authorization()
    ok, detail = results(app)["bling"]
    assert not ok
    assert "BlingAuthorizationRevoked" in detail and "re-authorize" in detail


def test_bling_scope_missing(make_app: Callable[..., App], sims: Simulators) -> None:
    sims.bling.register_app(CLIENT_ID, CLIENT_SECRET, REDIRECT, scopes=["produtos", "vendas"])
    app = make_app()
    missing = authorize_headless(app)
    assert "Clientes e Fornecedores" in missing
    ok, detail = results(app)["bling"]
    assert not ok
    assert "BlingScopeMissing" in detail


def test_unknown_task_type_is_reported_with_the_existing_ones(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    from simulators.seed import seed_auvo_customers, seed_auvo_extras

    seed_auvo_customers(sims.auvo, 3, rng_seed=1)
    seed_auvo_extras(sims.auvo, rng_seed=1)
    known = sorted(sims.auvo.records["taskTypes"])[0]
    ok, detail = results(make_app(tasks={"enabled": True, "task_types": [known, 999999]}))["options"]
    assert not ok
    assert "no Auvo task type [999999]" in detail and f"{known} (" in detail
    ok, _ = results(make_app(tasks={"enabled": True, "task_types": [known]}))["options"]
    assert ok


def test_the_daily_bling_budget_is_shown_and_a_spent_one_fails(
    make_app: Callable[..., App], sims: Simulators
) -> None:
    from infra.errors import DailyBudgetSpent
    from infra.quota import bling_day

    bling = {**sims.settings_overrides()["bling"], "daily_quota": 1000, "daily_budget_share": 0.01}
    app = make_app(bling=bling)
    authorize_headless(app)
    for _ in range(4):
        app.bling.contacts_page(1, limite=1)
    ok, detail = results(app)["bling_budget"]
    assert ok and "4 of 10" in detail and "6 left" in detail, detail
    for _ in range(6):
        app.bling.contacts_page(1, limite=1)
    with pytest.raises(DailyBudgetSpent):
        app.bling.contacts_page(1, limite=1)
    app.gate.pause(DailyBudgetSpent("daily quota: 10 of the tenant's 10 Bling calls spent"))
    out = results(app)
    assert out["bling_budget"][0] is False and "10 of 10" in out["bling_budget"][1]
    assert out["tenant"][0] is False and "waits for the daily quota" in out["tenant"][1]
    assert "resumes by itself" in out["tenant"][1]
    assert app.store.daily_calls(app.tenant, bling_day(app.clock()).isoformat()) == 10
